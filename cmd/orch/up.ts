/**
 * `orch up FILE... [SERVICE...]`: run the graph. Foreground by default (prefixed output, Ctrl-C
 * or SIGTERM stops everything in reverse dependency order; when every service has ended by
 * itself, orch exits: 0, or 1 if one failed). `--detach` returns once every service has settled
 * and leaves them running; host processes log to `<state dir>/logs/`. Either way the run state
 * (pids, containers, restarts, health) is kept in `<state dir>/<project>.json` for `status`/`down`.
 */
import { Command, CommanderError } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage } from '../../apis/errors.ts';
import {
  formatOrchfileError,
  parseOrchfiles,
  type OrchfileSource,
  type OrchGraph,
} from '../../apis/orchfile/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import {
  GraphExecutor,
  locateProject,
  selectServices,
  writeRunState,
  type GraphEvent,
  type ProjectLocation,
} from '../../runtime/graph/index.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';
import type { OrchIO } from './cli.ts';

/** OrchIO plus what a long-running command needs. */
export interface RunIO extends OrchIO {
  /** Calls `handler` on SIGINT/SIGTERM; returns a function that removes it. */
  readonly onStopSignal: (handler: (signal: string) => void) => () => void;
  /** Default: a DockerEngine on DOCKER_HOST or /var/run/docker.sock. */
  readonly engine?: () => ContainerEngine;
}

/** A problem with the command line: exit code 2. */
export class RunUsageError extends Error {}

export interface LoadedProject {
  readonly graph: OrchGraph;
  readonly loc: ProjectLocation;
  readonly files: string[];
  readonly services: string[];
}

/**
 * Splits positionals into Orchfiles (existing paths, at least the first) and service names,
 * parses them; Orchfile errors are printed (`error: file:line:col: ...`) and give undefined.
 */
export function loadProject(
  positionals: string[],
  o: { arg: string[]; projectName?: string },
  io: OrchIO,
): LoadedProject | undefined {
  const files: string[] = [];
  const services: string[] = [];
  for (const p of positionals) {
    if (services.length === 0 && (files.length === 0 || existsSync(resolve(io.cwd, p)))) files.push(p);
    else services.push(p);
  }
  const sources: OrchfileSource[] = files.map((path) => {
    try {
      return { path, text: io.readFile(resolve(io.cwd, path)) };
    } catch (err) {
      throw new RunUsageError(`cannot read '${path}': ${errorMessage(err)}`);
    }
  });
  const result = parseOrchfiles(sources, { args: pairs(o.arg), env: io.env });
  if (!result.ok) {
    io.stderr(result.errors.map((e) => `error: ${formatOrchfileError(e)}\n`).join(''));
    return undefined;
  }
  const loc = locateProject(files[0]!, { cwd: io.cwd, env: io.env, projectName: o.projectName });
  return { graph: result.graph, loc, files, services };
}

export function commonOptions(cmd: Command): Command {
  return cmd
    .option(
      '--arg <name=value>',
      'override an ARG default (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [],
    )
    .option(
      '-p, --project-name <name>',
      'project name (default: $ORCH_PROJECT_NAME, else the directory of the first Orchfile)',
    );
}

/** Runs a subcommand built by `build` with commander, mapping usage problems to exit code 2. */
export async function runCommand(
  argv: readonly string[],
  io: OrchIO,
  build: (program: Command, setResult: (p: Promise<number>) => void) => void,
): Promise<number> {
  let result: Promise<number> = Promise.resolve(0);
  const program = new Command('orch')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  build(program, (p) => {
    result = p;
  });
  try {
    program.parse([...argv], { from: 'user' });
    return await result;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof RunUsageError) {
      io.stderr(`error: ${err.message}\n`);
      return 2;
    }
    io.stderr(`error: ${errorMessage(err)}\n`);
    return 1;
  }
}

export function runUp(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('up')
        .description('start the services in dependency order (DISABLED ones only when named)')
        .argument('<files-and-services...>', 'Orchfiles (base, then overlays), then service names'),
    )
      .option('-d, --detach', 'start, wait until every service settled, leave them running and exit')
      .option('--force', 'run ONESHOT services again even when they completed with this definition')
      .action((positionals: string[], o: UpOptions) => {
        setResult(up(positionals, o, io));
      });
  });
}

interface UpOptions {
  arg: string[];
  projectName?: string;
  detach?: boolean;
  force?: boolean;
}

async function up(positionals: string[], o: UpOptions, io: RunIO): Promise<number> {
  const p = loadProject(positionals, o, io);
  if (p === undefined) return 1;
  const { graph, loc } = p;
  const detach = o.detach === true;
  let selected;
  try {
    selected = selectServices(graph, p.services);
  } catch (err) {
    throw new RunUsageError(errorMessage(err));
  }
  let engine: ContainerEngine | undefined;
  if (selected.some((s) => s.mode === 'container')) {
    engine = io.engine?.() ?? new DockerEngine();
    try {
      await engine.ping();
    } catch (err) {
      io.stderr(`error: container engine: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const width = Math.max(...selected.map((s) => s.name.length));
  const ex: GraphExecutor = new GraphExecutor({
    graph,
    project: loc.name,
    vars: { ORCH_PROJECT: loc.dir, ORCH_STATE_DIR: loc.stateDir },
    services: p.services,
    processes: new NodeProcessRunner(),
    engine,
    baseEnv: io.env,
    readyDir: readyDir(loc),
    force: o.force === true,
    ...(detach
      ? { logDir: join(loc.stateDir, 'logs') }
      : { output: (service, _stream, line) => io.stdout(`${service.padEnd(width)} | ${line}\n`) }),
    onEvent: (e) => {
      io.stderr(formatEvent(e));
      save();
    },
  });
  const save = (final = false): void => {
    writeRunState(loc, {
      project: loc.name,
      ...(detach || final ? {} : { ownerPid: process.pid }),
      detached: detach,
      updatedAt: Date.now(),
      services: ex.status(),
    });
  };

  if (detach) {
    await ex.start();
    const failed = ex.failed;
    const services = await ex.detach();
    writeRunState(loc, { project: loc.name, detached: true, updatedAt: Date.now(), services });
    return failed ? 1 : 0;
  }

  let signals = 0;
  let first!: () => void;
  let second!: () => void;
  const firstSignal = new Promise<void>((r) => (first = r));
  const secondSignal = new Promise<void>((r) => (second = r));
  const off = io.onStopSignal((sig) => {
    signals++;
    if (signals === 1) {
      io.stderr(`orch: ${sig}: stopping services in reverse dependency order (again to exit at once)\n`);
      first();
    } else {
      io.stderr(`orch: ${sig} again: exiting without waiting\n`);
      second();
    }
  });
  try {
    await Promise.race([ex.start().then(() => ex.idle()), firstSignal]);
    const how = await Promise.race([ex.stop().then(() => 'stopped'), secondSignal.then(() => 'forced')]);
    if (how === 'forced') return 130;
  } finally {
    off();
  }
  save(true);
  return signals === 0 && ex.failed ? 1 : 0;
}

/** ONESHOT ready markers: `<state dir>/ready/<project>/<service>.json` (kept by `down`). */
export function readyDir(loc: ProjectLocation): string {
  return join(loc.stateDir, 'ready', loc.name);
}

function formatEvent(e: GraphEvent): string {
  const what = e.warning === true ? 'warning' : e.state;
  return `orch: ${e.service}: ${what}${e.message === '' ? '' : `: ${e.message}`}\n`;
}

function pairs(values: readonly string[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) throw new RunUsageError(`--arg value must be name=value, got '${v}'`);
    if (eq === 0) throw new RunUsageError(`invalid --arg: '${v}'`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}
