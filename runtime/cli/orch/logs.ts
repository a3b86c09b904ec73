/**
 * `orch logs [FILE...] SERVICE [-f] [--tail N]`: a service's output. Containers: the engine's
 * logs (`docker logs`). Host services: `<state dir>/logs/<service>.log|.err` (or STDOUT/STDERR),
 * which the supervising `orch up` keeps in both modes. `-f` follows until Ctrl-C.
 */
import { join } from 'node:path';
import { errorMessage } from '../../../apis/errors.ts';
import { DockerEngine } from '../../docker/dockerode.ts';
import {
  defaultContainerName,
  hasLogs,
  hostLogTarget,
  prepareService,
  readRunState,
  serviceLogs,
  stateFile,
  type LogTarget,
} from '../../graph/index.ts';
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
  let target: LogTarget;
  if (spec.mode === 'container') {
    const recorded = readRunState(stateFile(p.loc))?.services.find((s) => s.name === name);
    target = { service: name, container: recorded?.containerName ?? defaultContainerName(p.loc.name, name) };
  } else {
    const prepared = prepareService(spec, { vars: p.vars, readFile: io.readFile });
    target = hostLogTarget(name, join(p.loc.stateDir, 'logs'), prepared);
    if (!hasLogs(target) && o.follow !== true) {
      off();
      io.stderr(`error: logs ${name}: no log files yet in ${join(p.loc.stateDir, 'logs')}\n`);
      return 1;
    }
  }
  try {
    const engine = spec.mode === 'container' ? (io.engine?.() ?? new DockerEngine()) : undefined;
    for await (const l of serviceLogs(target, {
      ...(engine === undefined ? {} : { engine }),
      follow: o.follow === true,
      signal: stop.signal,
      ...(tail === undefined ? {} : { tail }),
    })) {
      (l.stream === 'stderr' ? io.stderr : io.stdout)(`${l.line}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr(`error: logs ${name}: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    off();
  }
}
