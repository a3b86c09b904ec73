/**
 * `orch up [FILE...] [SERVICE...]`: run the graph (default file: ./Orchfile). The `orch up`
 * process is the project's supervisor in both modes: it applies RESTART, RESTART_DELAY and
 * START_LIMIT_*, re-checks health, keeps the run state (`<state dir>/<project>.json`, owner =
 * itself) and serves `orch restart` on `<state dir>/<project>.sock`.
 *
 * - Foreground (default): prefixed output (host output also kept in `<state dir>/logs/`); Ctrl-C
 *   or SIGTERM stops everything in reverse dependency order; when every service ended by itself
 *   orch exits: 0, or 1 if one failed.
 * - `-d`: the same supervisor runs detached (its own session; its own log in
 *   `<state dir>/logs/orch.log`); this command prints its events until every service settled and
 *   exits 0 (1 if one failed), leaving the supervisor running. `orch down` stops it (SIGTERM).
 */
import { spawn } from 'node:child_process';
import { Command, CommanderError, Option } from 'commander';
import { createWriteStream, mkdirSync, openSync, statSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage } from '../../../apis/errors.ts';
import {
  formatOrchfileError,
  parseOrchfiles,
  type OrchfileSource,
  type OrchGraph,
} from '../../../apis/orchfile/index.ts';
import { DockerEngine } from '../../docker/dockerode.ts';
import type { ContainerEngine } from '../../docker/engine.ts';
import {
  controlSocketPath,
  GraphExecutor,
  locateProject,
  processIdentity,
  selectServices,
  serveControl,
  serviceRecords,
  stateFile,
  startOrder,
  supervision,
  writeRunState,
  type GraphEvent,
  type ProjectContext,
  type ProjectLocation,
} from '../../graph/index.ts';
import { realClock } from '../../clock/index.ts';
import { NodeProcessRunner } from '../../process/index.ts';
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
  /** Built-in variables of this run: ORCH_PROJECT, ORCH_STATE_DIR, PORT_OFFSET, CONTAINER_PREFIX. */
  readonly vars: Readonly<Record<string, string>> & { readonly ORCH_PROJECT: string };
}

/** The Orchfile used when the command line names none (as `docker compose` finds compose.yaml). */
export const DEFAULT_ORCHFILE = 'Orchfile';

/**
 * Splits positionals into Orchfiles (existing paths; none → ./Orchfile) and service names, and
 * parses them; Orchfile errors are printed (`error: file:line:col: ...`) and give undefined.
 * `--prefix P` makes the project `P<name>` (containers, network, volumes, state) and
 * CONTAINER_PREFIX; `portOffset` is PORT_OFFSET.
 */
export function loadProject(
  positionals: readonly string[],
  o: { arg: string[]; projectName?: string; prefix?: string; portOffset?: number },
  io: OrchIO,
): LoadedProject | undefined {
  const files: string[] = [];
  const services: string[] = [];
  for (const p of positionals) {
    if (services.length === 0 && isFile(resolve(io.cwd, p))) files.push(p);
    else services.push(p);
  }
  if (files.length === 0) files.push(DEFAULT_ORCHFILE);
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
  const prefix = o.prefix ?? '';
  if (!/^[a-z0-9_-]*$/.test(prefix)) {
    throw new RunUsageError(`--prefix must be lowercase letters, digits, '-' or '_', got '${prefix}'`);
  }
  const base = locateProject(files[0]!, { cwd: io.cwd, env: io.env, projectName: o.projectName });
  const loc = { ...base, name: `${prefix}${base.name}` };
  const vars = {
    ORCH_PROJECT: loc.dir,
    ORCH_STATE_DIR: loc.stateDir,
    PORT_OFFSET: String(o.portOffset ?? 0),
    CONTAINER_PREFIX: prefix,
  };
  return { graph: result.graph, loc, files, services, vars };
}

/** What `orch status`/`down` need to find and stop the project's services. */
export function projectContext(p: LoadedProject, io: RunIO): ProjectContext {
  return {
    graph: p.graph,
    loc: p.loc,
    vars: p.vars,
    env: io.env,
    readFile: io.readFile,
    runner: new NodeProcessRunner(),
    clock: realClock,
    engine: () => io.engine?.() ?? new DockerEngine(),
    log: (line) => io.stderr(`${line}\n`),
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
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
    )
    .option('--prefix <prefix>', "CONTAINER_PREFIX: prepended to the project name, so copies don't collide");
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
        .argument('[files-and-services...]', 'Orchfiles (default: ./Orchfile), then service names'),
    )
      .option('-d, --detach', 'leave a supervisor running in the background; exit once every service settled')
      .option('--force', 'run ONESHOT services again even when they completed with this definition')
      .option('--port-offset <n>', 'PORT_OFFSET: added to every published host port (default 0)', portOffset)
      .addOption(new Option('--supervisor', 'internal: the detached supervisor').hideHelp())
      .action((positionals: string[], o: UpOptions) => {
        setResult(
          o.detach === true && o.supervisor !== true
            ? detach(argv, positionals, o, io)
            : up(positionals, o, io),
        );
      });
  });
}

interface UpOptions {
  arg: string[];
  projectName?: string;
  prefix?: string;
  portOffset?: number;
  detach?: boolean;
  force?: boolean;
  supervisor?: boolean;
}

function portOffset(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65534)
    throw new RunUsageError(`--port-offset must be 0-65534, got '${v}'`);
  return Number(v);
}

/**
 * `orch up -d`: starts this same command as a detached supervisor (own session, output to
 * `<state dir>/logs/orch.log`) and relays its events until every service settled.
 */
async function detach(
  argv: readonly string[],
  positionals: string[],
  o: UpOptions,
  io: RunIO,
): Promise<number> {
  const p = loadProject(positionals, o, io);
  if (p === undefined) return 1;
  const logDir = join(p.loc.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'orch.log');
  const out = openSync(logFile, 'a');
  const args = [...argv.filter((a) => a !== '-d' && a !== '--detach'), '--supervisor'];
  // The single executable applies its own start-up flags (execArgv in its config) to every start,
  // and hands anything on its command line to the program: passing process.execArgv there would
  // make `--max-opt=1` the supervisor's first argument (it exited 2, "unknown option").
  const nodeFlags = process.getBuiltinModule('node:sea')?.isSea() === true ? [] : process.execArgv;
  const child = spawn(process.execPath, [...nodeFlags, process.argv[1]!, ...args], {
    cwd: io.cwd,
    env: { ...io.env },
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
  });
  return new Promise<number>((resolve) => {
    let settled = false;
    child.on('message', (m: SupervisorMessage) => {
      if ('line' in m) io.stderr(m.line);
      if ('settled' in m) {
        settled = true;
        io.stderr(
          `orch: supervisor running in the background (pid ${child.pid}, log ${logFile}); 'orch down' stops it\n`,
        );
        child.disconnect();
        child.unref();
        resolve(m.failed ? 1 : 0);
      }
    });
    child.on('exit', (code) => {
      if (settled) return;
      io.stderr(`error: the supervisor exited (code ${code}) before every service settled; see ${logFile}\n`);
      resolve(1);
    });
  });
}

type SupervisorMessage = { line: string } | { settled: true; failed: boolean };

async function up(positionals: string[], o: UpOptions, io: RunIO): Promise<number> {
  const p = loadProject(positionals, o, io);
  if (p === undefined || alreadySupervised(p, io)) return 1;
  const { graph, loc } = p;
  const supervisor = o.supervisor === true;
  const send = (m: SupervisorMessage): void => {
    if (supervisor && process.connected) process.send?.(m);
  };
  const selected = selectedServices(graph, p.services);
  const engine = await containerEngine(selected, io);
  if (engine === false) return 1;
  const logDir = join(loc.stateDir, 'logs');
  const width = Math.max(...selected.map((s) => s.name.length));
  const tee = new LogTee(logDir);
  const ex: GraphExecutor = new GraphExecutor({
    graph,
    project: loc.name,
    vars: p.vars,
    services: p.services,
    processes: new NodeProcessRunner(),
    engine,
    baseEnv: io.env,
    readyDir: readyDir(loc),
    force: o.force === true,
    ...(supervisor
      ? { logDir }
      : {
          output: (service, stream, line) => {
            io.stdout(`${service.padEnd(width)} | ${line}\n`);
            if (graph.services.find((s) => s.name === service)?.mode === 'host')
              tee.write(service, stream, line);
          },
        }),
    onEvent: (e) => {
      const line = formatEvent(e);
      // The supervisor's own log gets times; what the terminal sees stays as in the foreground.
      io.stderr(supervisor ? `${new Date(e.time).toISOString()} ${line}` : line);
      send({ line });
      save();
    },
  });
  const order = startOrder(graph);
  const identity = processIdentity(process.pid);
  const save = (final = false): void => {
    writeRunState(stateFile(loc), {
      project: loc.name,
      ...(final ? {} : { owner: { pid: process.pid, ...(identity === undefined ? {} : { identity }) } }),
      vars: p.vars,
      updatedAt: Date.now(),
      services: serviceRecords(ex.status(), graph, { order }),
    });
  };

  const { firstSignal, secondSignal, signals, off } = stopSignals(io);
  const control = new AbortController();
  const serving = serveControl(
    controlSocketPath(loc.stateDir, loc.name),
    (req) => ex.restart(req.restart),
    control.signal,
  ).catch((err: unknown) =>
    io.stderr(`orch: warning: no control socket (orch restart unavailable): ${errorMessage(err)}\n`),
  );
  try {
    const started = ex.start().then(() => send({ settled: true, failed: ex.failed }));
    await Promise.race([started.then(() => ex.idle()), firstSignal]);
    const how = await Promise.race([ex.stop().then(() => 'stopped'), secondSignal.then(() => 'forced')]);
    if (how === 'forced') return 130;
  } finally {
    off();
    control.abort();
    await serving;
    tee.close();
  }
  save(true);
  return signals() === 0 && ex.failed ? 1 : 0;
}

/** The services to run (the named ones and what they need); an unknown name is a usage error. */
function selectedServices(graph: OrchGraph, names: readonly string[]): ReturnType<typeof selectServices> {
  try {
    return selectServices(graph, [...names]);
  } catch (err) {
    throw new RunUsageError(errorMessage(err));
  }
}

/** The engine when a selected service is a container (pinged); false when it does not answer. */
async function containerEngine(
  selected: readonly { mode: string }[],
  io: RunIO,
): Promise<ContainerEngine | undefined | false> {
  if (!selected.some((s) => s.mode === 'container')) return undefined;
  const engine = io.engine?.() ?? new DockerEngine();
  try {
    await engine.ping();
    return engine;
  } catch (err) {
    io.stderr(`error: container engine: ${errorMessage(err)}\n`);
    return false;
  }
}

/** The first SIGINT/SIGTERM stops the services in order; a second exits without waiting. */
function stopSignals(io: RunIO) {
  let count = 0;
  let first!: () => void;
  let second!: () => void;
  const firstSignal = new Promise<void>((r) => (first = r));
  const secondSignal = new Promise<void>((r) => (second = r));
  const off = io.onStopSignal((sig) => {
    count++;
    if (count === 1) {
      io.stderr(`orch: ${sig}: stopping services in reverse dependency order (again to exit at once)\n`);
      first();
    } else {
      io.stderr(`orch: ${sig} again: exiting without waiting\n`);
      second();
    }
  });
  return { firstSignal, secondSignal, signals: () => count, off };
}

/** One supervisor per project: a second `orch up` while one runs is refused. */
function alreadySupervised(p: LoadedProject, io: RunIO): boolean {
  const { state, supervised } = supervision({ loc: p.loc, runner: new NodeProcessRunner() });
  if (!supervised) return false;
  io.stderr(
    `error: ${p.loc.name} is already supervised by orch up (pid ${state!.owner!.pid}); 'orch down' first, or 'orch restart SERVICE'\n`,
  );
  return true;
}

/** Foreground host output, also appended to `<logDir>/<service>.log|.err` for `orch logs`. */
class LogTee {
  readonly #dir: string;
  readonly #streams = new Map<string, WriteStream>();
  constructor(dir: string) {
    this.#dir = dir;
  }
  write(service: string, stream: 'stdout' | 'stderr', line: string): void {
    const file = join(this.#dir, `${service}.${stream === 'stdout' ? 'log' : 'err'}`);
    let w = this.#streams.get(file);
    if (w === undefined) {
      mkdirSync(this.#dir, { recursive: true });
      w = createWriteStream(file, { flags: 'a' });
      w.on('error', () => undefined);
      this.#streams.set(file, w);
    }
    w.write(`${line}\n`);
  }
  close(): void {
    for (const w of this.#streams.values()) w.end();
  }
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
