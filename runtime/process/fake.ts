/**
 * An in-memory {@link ProcessRunner} for executor unit tests. Processes live until a test ends
 * them (`exit`) or a signal does; scripts make a command exit on its own, ignore SIGTERM or fail
 * to start, and `onExec` decides what health checks and STOP commands return.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import {
  ProcessErrorCode,
  type ExecOptions,
  type ExecResult,
  type ProcessExit,
  type ProcessHandle,
  type ProcessRunner,
  type ProcessSpec,
} from './runner.ts';

export interface FakeScript {
  /** Exit with this code right after starting. Default: keep running. */
  readonly exitCode?: number;
  /** SIGTERM is ignored (only SIGKILL ends it). Default false. */
  readonly ignoreSigterm?: boolean;
  /** Starting fails with ProcessSpawnFailed and this message. */
  readonly spawnError?: string;
  /** Lines printed on stdout when it starts. */
  readonly stdout?: readonly string[];
}

export class FakeProcess {
  readonly pid: number;
  readonly spec: ProcessSpec;
  readonly signals: string[] = [];
  exit: ProcessExit | undefined;
  readonly exited: Promise<ProcessExit>;
  readonly #resolve: (e: ProcessExit) => void;
  readonly #script: FakeScript;

  constructor(pid: number, spec: ProcessSpec, script: FakeScript) {
    this.pid = pid;
    this.spec = spec;
    this.#script = script;
    let resolve!: (e: ProcessExit) => void;
    this.exited = new Promise((r) => (resolve = r));
    this.#resolve = resolve;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Ends the process (as if it exited by itself). No-op when already gone. */
  end(exit: ProcessExit): void {
    if (this.exit !== undefined) return;
    this.exit = exit;
    this.#resolve(exit);
  }

  signal(sig: NodeJS.Signals | 0): void {
    if (sig === 0 || !this.alive) return;
    this.signals.push(sig);
    if (sig === 'SIGTERM' && this.#script.ignoreSigterm === true) return;
    if (sig === 'SIGHUP') return;
    this.end({ code: null, signal: sig });
  }
}

interface Rule<T> {
  readonly match: string | RegExp;
  readonly value: T;
}

export class FakeProcessRunner implements ProcessRunner {
  /** Every process ever spawned, in order. */
  readonly processes: FakeProcess[] = [];
  /** Every command passed to `exec`, in order. */
  readonly execs: string[] = [];
  #nextPid = 1000;
  readonly #scripts: Rule<FakeScript>[] = [];
  readonly #execs: Rule<number | ((command: string) => number)>[] = [];

  /** Processes whose service name or command matches behave as `script` (the latest rule wins). */
  script(match: string | RegExp, script: FakeScript): void {
    this.#scripts.unshift({ match, value: script });
  }

  /** `exec` of a matching command returns this exit code (the latest rule wins). Default 0. */
  onExec(match: string | RegExp, code: number | ((command: string) => number)): void {
    this.#execs.unshift({ match, value: code });
  }

  /** The latest process of service `name`. */
  latest(name: string): FakeProcess | undefined {
    return this.processes.findLast((p) => p.spec.name === name);
  }

  /** Live processes of service `name`. */
  running(name: string): FakeProcess[] {
    return this.processes.filter((p) => p.spec.name === name && p.alive);
  }

  /** The latest process of `name` exits with `code`. */
  exit(name: string, code: number): void {
    const p = this.latest(name);
    if (p === undefined) throw new Error(`fake process: no process for ${name}`);
    p.end({ code, signal: null });
  }

  async spawn(spec: ProcessSpec): Promise<ProcessHandle> {
    await Promise.resolve();
    const script = find(this.#scripts, [spec.name, spec.command]) ?? {};
    const error =
      script.spawnError ??
      (spec.cwd !== undefined && !existsSync(spec.cwd)
        ? `spawn /bin/sh ENOENT (cwd ${spec.cwd})`
        : undefined);
    if (error !== undefined) {
      throw new OrunError(ProcessErrorCode.SpawnFailed, `process: start ${spec.name}: ${error}`, {
        context: { service: spec.name },
      });
    }
    const p = new FakeProcess(this.#nextPid++, spec, script);
    this.processes.push(p);
    for (const l of script.stdout ?? []) {
      if (typeof spec.stdout === 'function') spec.stdout(l);
      else if (typeof spec.stdout === 'object') {
        mkdirSync(dirname(spec.stdout.file), { recursive: true });
        appendFileSync(spec.stdout.file, `${l}\n`);
      }
    }
    if (script.exitCode !== undefined) p.end({ code: script.exitCode, signal: null });
    return { pid: p.pid, exited: p.exited, release: () => undefined };
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    await Promise.resolve();
    this.execs.push(command);
    if (options.signal?.aborted === true)
      return { code: null, signal: 'SIGKILL', timedOut: true, output: '' };
    const rule = find(this.#execs, [command]) ?? 0;
    const code = typeof rule === 'function' ? rule(command) : rule;
    // A STOP command such as `kill $MAINPID` signals the service, as the real shell would.
    const expanded = command.replaceAll('$MAINPID', options.env?.MAINPID ?? '');
    const pid = /^kill(?: -\w+)? (\d+)$/.exec(expanded);
    if (pid !== null) this.signalGroup(Number(pid[1]), 'SIGTERM');
    return { code, signal: null, timedOut: false, output: '' };
  }

  alive(pid: number): boolean {
    return this.processes.some((p) => p.pid === pid && p.alive);
  }

  signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
    const p = this.processes.find((x) => x.pid === pid && x.alive);
    p?.signal(signal);
    return p !== undefined;
  }
}

function find<T>(rules: readonly Rule<T>[], subjects: readonly string[]): T | undefined {
  for (const r of rules) {
    const hit = subjects.some((s) => (typeof r.match === 'string' ? s === r.match : r.match.test(s)));
    if (hit) return r.value;
  }
  return undefined;
}
