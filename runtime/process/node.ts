/**
 * The real {@link ProcessRunner}: node:child_process, each command the leader of its own process
 * group (`detached: true`), signals sent to the group (`kill(-pid)`).
 */
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { OrunError } from '../../apis/errors.ts';
import {
  ProcessErrorCode,
  type ExecOptions,
  type ExecResult,
  type OutputTarget,
  type ProcessExit,
  type ProcessHandle,
  type ProcessRunner,
  type ProcessSpec,
} from './runner.ts';

const SHELL = '/bin/sh';
const OUTPUT_KEEP = 2048;

export class NodeProcessRunner implements ProcessRunner {
  async spawn(spec: ProcessSpec): Promise<ProcessHandle> {
    const ids = spec.user === undefined ? {} : await resolveUser(spec.user, spec.name);
    const fds: number[] = [];
    let child: ChildProcess;
    try {
      const stdio: StdioOptions = ['ignore', stdioOf(spec.stdout, fds), stdioOf(spec.stderr, fds)];
      child = spawn(SHELL, ['-c', spec.command], {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        detached: true,
        stdio,
        ...ids,
      });
    } catch (err) {
      throw spawnFailed(spec, err);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    // Errors such as a missing cwd arrive as an 'error' event before 'spawn'.
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(spawnFailed(spec, err)));
    });
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    followLines(child.stdout, spec.stdout);
    followLines(child.stderr, spec.stderr);
    return {
      pid: child.pid!,
      exited,
      release: () => child.unref(),
    };
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const ids = options.user === undefined ? {} : await resolveUser(options.user, command);
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
    };
    let child: ChildProcess;
    try {
      child = spawn(SHELL, ['-c', command], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...ids,
      });
    } catch (err) {
      return { code: null, signal: null, timedOut: false, output: (err as Error).message };
    }
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const kill = (): void => {
      timedOut = true;
      if (child.pid !== undefined) this.signalGroup(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(kill, timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    if (options.signal?.aborted === true) kill();
    try {
      const exit = await new Promise<ProcessExit>((resolve) => {
        child.once('error', (err) => {
          output = err.message;
          resolve({ code: null, signal: null });
        });
        child.once('close', (code, signal) => resolve({ code, signal }));
      });
      return { ...exit, timedOut, output };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
    }
  }

  /**
   * On Linux, a group member that is a zombie does not count: an orphaned child is reaped by
   * PID 1, and in a container PID 1 may reap late or never, while `kill(-pgid, 0)` still succeeds.
   */
  alive(pid: number): boolean {
    if (!this.signalGroup(pid, 0)) return false;
    if (process.platform !== 'linux') return true;
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return true;
    }
    for (const e of entries) {
      if (!/^\d+$/.test(e)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      } catch {
        continue;
      }
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pid && state !== 'Z' && state !== 'X') return true;
    }
    return false;
  }

  signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
    if (!Number.isInteger(pid) || pid <= 1) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch (err) {
      // EPERM: the group exists but belongs to someone else.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

function stdioOf(target: OutputTarget | undefined, fds: number[]): 'inherit' | 'ignore' | 'pipe' | number {
  if (target === undefined || target === 'inherit') return 'inherit';
  if (target === 'ignore') return 'ignore';
  if (typeof target === 'function') return 'pipe';
  mkdirSync(dirname(target.file), { recursive: true });
  const fd = openSync(target.file, 'a');
  fds.push(fd);
  return fd;
}

function followLines(stream: NodeJS.ReadableStream | null, target: OutputTarget | undefined): void {
  if (stream === null || typeof target !== 'function') return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', target);
}

function spawnFailed(spec: ProcessSpec, err: unknown): OrunError {
  return new OrunError(
    ProcessErrorCode.SpawnFailed,
    `process: start ${spec.name}: ${(err as Error).message}`,
    { cause: err, context: { service: spec.name, cwd: spec.cwd } },
  );
}

/** A user name or uid → uid and primary gid, via `id` (so NSS sources are honoured). */
async function resolveUser(user: string, name: string): Promise<{ uid: number; gid: number }> {
  const id = (flag: string): Promise<number> =>
    new Promise((resolve, reject) => {
      execFile('id', [flag, user], (err, stdout) => {
        if (err !== null) reject(new Error(err.message, { cause: err }));
        else resolve(Number(stdout.trim()));
      });
    });
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch (err) {
    throw new OrunError(ProcessErrorCode.SpawnFailed, `process: start ${name}: unknown user '${user}'`, {
      cause: err,
      context: { service: name, user },
    });
  }
}
