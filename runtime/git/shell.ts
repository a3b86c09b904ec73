/**
 * One long-lived `/bin/sh` that runs the agent's frequent git command (the `ls-remote` poll) for
 * it. Forking the agent (a 100 MiB Node process) for every poll was three quarters of an idle
 * agent's CPU (the `spawn` frame in its profile, BENCHMARKS.md); forking a 1 MiB shell costs a
 * fraction. Commands run one at a time; each one's stdout and stderr come back together, followed
 * by its exit status. A command that outlives its timeout or whose signal aborts kills the shell
 * and what it runs (its own process group); the next command starts a new shell.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { shellQuote } from '../../apis/shell.ts';

export interface ShellResult {
  /** Exit status of the command. */
  code: number;
  /** stdout and stderr, interleaved. */
  output: string;
}

const LOOP = 'while IFS= read -r line; do eval "$line" </dev/null 2>&1; printf \'\\000%d\\000\' "$?"; done';

export class ShellRunner {
  readonly #env: Record<string, string>;
  readonly #cwd: string;
  #child: ChildProcess | undefined;
  #buf = '';
  #current: ((r: ShellResult | Error) => void) | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(env: Record<string, string>, cwd: string) {
    this.#env = env;
    this.#cwd = cwd;
  }

  /** Runs `argv` (a program and its arguments); rejects when the shell fails, times out or aborts. */
  run(argv: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<ShellResult> {
    if (argv.some((a) => a.includes('\n') || a.includes('\0'))) {
      return Promise.reject(new Error('shell: an argument holds a newline or NUL'));
    }
    const next = this.#chain.then(() => this.#run(argv, timeoutMs, signal));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Ends the shell (it also ends by itself when this process exits: its stdin closes). */
  close(): void {
    this.#kill();
  }

  #run(argv: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<ShellResult> {
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    const child = this.#shell();
    return new Promise<ShellResult>((resolve, reject) => {
      const onAbort = (): void => finish(new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(`no answer in ${timeoutMs} ms; killed`)), timeoutMs);
      const finish = (r: ShellResult | Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#current = undefined;
        if (r instanceof Error) {
          this.#kill();
          reject(r);
        } else resolve(r);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#current = finish;
      child.stdin?.write(`${argv.map((a) => shellQuote(a, { always: true })).join(' ')}\n`);
    });
  }

  #shell(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    const child = spawn('/bin/sh', ['-c', LOOP], {
      cwd: this.#cwd,
      env: this.#env,
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true, // its own process group, so a kill reaches the git it runs
    });
    this.#child = child;
    this.#buf = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.#buf += s;
      const m = /\0(\d+)\0$/.exec(this.#buf);
      if (m === null) return;
      const output = this.#buf.slice(0, m.index);
      this.#buf = '';
      this.#current?.({ code: Number(m[1]), output });
    });
    const gone = (err?: Error): void => {
      if (this.#child === child) this.#child = undefined;
      this.#current?.(err ?? new Error('the shell exited'));
    };
    child.on('error', gone);
    child.on('exit', () => gone());
    child.stdin?.on('error', () => undefined); // EPIPE after the shell died; 'exit' reports it
    // Never keeps the agent alive.
    child.unref();
    for (const s of [child.stdin, child.stdout]) (s as { unref?: () => void } | null)?.unref?.();
    return child;
  }

  #kill(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
}
