/**
 * `orch logs [FILE...] SERVICE [-f] [--tail N]`: a service's output. Containers: the engine's
 * logs (`docker logs`). Host services: `<state dir>/logs/<service>.log|.err` (or STDOUT/STDERR),
 * which the supervising `orch up` keeps in both modes. `-f` follows until Ctrl-C.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../../apis/errors.ts';
import { realClock } from '../../clock/index.ts';
import { DockerEngine } from '../../docker/dockerode.ts';
import { defaultContainerName, prepareService, readRunState, stateFile } from '../../graph/index.ts';
import { commonOptions, loadProject, runCommand, RunUsageError, type RunIO } from './up.ts';

interface LogsOptions {
  arg: string[];
  projectName?: string;
  prefix?: string;
  follow?: boolean;
  tail?: string;
}

export function runLogs(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('logs')
        .description(
          "print a service's output (containers: the engine's logs; host services: their log files)",
        )
        .argument('<files-and-service...>', 'Orchfiles (default: ./Orchfile), then one service name'),
    )
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('--tail <lines>', 'only the last N lines (default: all)')
      .action((positionals: string[], o: LogsOptions) => setResult(logs(positionals, o, io)));
  });
}

async function logs(positionals: string[], o: LogsOptions, io: RunIO): Promise<number> {
  const p = loadProject(positionals, o, io);
  if (p === undefined) return 1;
  if (p.services.length !== 1) throw new RunUsageError('name one service');
  const name = p.services[0]!;
  const spec = p.graph.services.find((s) => s.name === name);
  if (spec === undefined) throw new RunUsageError(`no service named '${name}' in the Orchfiles`);
  const tail = o.tail === undefined ? undefined : Number(o.tail);
  if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
    throw new RunUsageError(`--tail must be a number of lines, got '${o.tail}'`);
  }
  const stop = new AbortController();
  const off = io.onStopSignal(() => stop.abort());
  try {
    if (spec.mode === 'container') {
      const recorded = readRunState(stateFile(p.loc))?.services.find((s) => s.name === name);
      const container = recorded?.containerName ?? defaultContainerName(p.loc.name, name);
      const engine = io.engine?.() ?? new DockerEngine();
      try {
        for await (const l of engine.containerLogs(container, {
          follow: o.follow === true,
          signal: stop.signal,
          ...(tail === undefined ? {} : { tail }),
        })) {
          (l.stream === 'stderr' ? io.stderr : io.stdout)(`${l.line}\n`);
        }
      } catch (err) {
        io.stderr(`error: logs ${name}: ${errorMessage(err)}\n`);
        return 1;
      }
      return 0;
    }
    const prepared = prepareService(spec, { vars: p.vars, readFile: io.readFile });
    const dir = join(p.loc.stateDir, 'logs');
    const files: [string, (s: string) => void][] = [
      [prepared.stdoutFile ?? join(dir, `${name}.log`), io.stdout],
      [prepared.stderrFile ?? join(dir, `${name}.err`), io.stderr],
    ];
    const offsets = files.map(([f, out]) => printFrom(f, 0, out, tail));
    if (offsets.every((x) => x === undefined) && o.follow !== true) {
      io.stderr(`error: logs ${name}: no log files yet in ${dir}\n`);
      return 1;
    }
    while (o.follow === true && !stop.signal.aborted) {
      await realClock.sleep(200, stop.signal);
      files.forEach(([f, out], i) => (offsets[i] = printFrom(f, offsets[i] ?? 0, out)));
    }
    return 0;
  } finally {
    off();
  }
}

/** Prints `file` from byte `from` (the last `tail` lines when given); returns the new end, undefined when missing. */
function printFrom(file: string, from: number, out: (s: string) => void, tail?: number): number | undefined {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return undefined;
  }
  if (size <= from) return size < from ? 0 : from;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    let text = buf.toString('utf8');
    if (tail !== undefined)
      text = text
        .split('\n')
        .slice(-tail - 1)
        .join('\n');
    out(text);
  } finally {
    closeSync(fd);
  }
  return size;
}
