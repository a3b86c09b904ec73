/**
 * One `git cat-file --batch-command` per repository dir, kept while it is used and ended after
 * `idleMs` without a request, so a poll that finds a new commit reads the commit, its trees, the
 * blobs' sizes and the blobs through one process (it took `log`, `ls-tree` and `cat-file`: three)
 * and an idle agent keeps no git process. Objects added later (a newer fetch) are found: git
 * rescans its packs when an object is missing and reads loose objects and refs from disk each time.
 *
 * Requests are pipelined: every command is written at once and the answers are read in order.
 * A request that gets no output for `timeoutMs` kills the process (the next request starts a new
 * one); a request whose signal aborts is failed alone, its answers read and dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** One object as `cat-file` answers it; `undefined` when missing (or ambiguous). */
export interface CatFileObject {
  oid: string;
  type: string;
  size: number;
  /** The contents (`contents` requests only). */
  data?: Buffer;
}

/** git answered `unknown option` or similar: `--batch-command` needs git 2.36. */
export class CatFileUnsupported extends Error {}

interface Pending {
  contents: boolean;
  resolve: (o: CatFileObject | undefined) => void;
  reject: (e: Error) => void;
}

export class CatFile {
  readonly #binary: string;
  readonly #dir: string;
  readonly #env: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  #child: ChildProcess | undefined;
  #pending: Pending[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #stderr = '';
  #answered = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(binary: string, dir: string, env: Record<string, string>, timeoutMs: number, idleMs: number) {
    this.#binary = binary;
    this.#dir = dir;
    this.#env = env;
    this.#timeoutMs = timeoutMs;
    this.#idleMs = idleMs;
  }

  /** Type and size of each object (`info`), in order. */
  info(specs: readonly string[], signal?: AbortSignal): Promise<(CatFileObject | undefined)[]> {
    return this.#request(specs, false, signal);
  }

  /** Type, size and contents of each object (`contents`), in order. */
  contents(specs: readonly string[], signal?: AbortSignal): Promise<(CatFileObject | undefined)[]> {
    return this.#request(specs, true, signal);
  }

  /** Ends the process, failing what is still pending. */
  close(): void {
    this.#kill(new Error('cat-file: closed'));
  }

  #request(
    specs: readonly string[],
    contents: boolean,
    signal?: AbortSignal,
  ): Promise<(CatFileObject | undefined)[]> {
    if (specs.length === 0) return Promise.resolve([]);
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    for (const s of specs) {
      if (s === '' || s.includes('\n'))
        return Promise.reject(new Error(`cat-file: invalid object name '${s}'`));
    }
    const child = this.#process();
    const answers = specs.map(
      (): Promise<CatFileObject | undefined> =>
        new Promise((resolve, reject) => this.#pending.push({ contents, resolve, reject })),
    );
    this.#hold(child, true);
    const verb = contents ? 'contents' : 'info';
    child.stdin?.write(specs.map((s) => `${verb} ${s}\n`).join(''));
    this.#arm();
    // An abort fails this request only: its answers are still read (and dropped), so the requests
    // of other callers (a newer revision's reads) keep their process.
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      Promise.all(answers)
        .finally(() => signal?.removeEventListener('abort', onAbort))
        .then(resolve, reject);
    });
  }

  #process(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    const child = spawn(this.#binary, ['cat-file', '--batch-command'], {
      cwd: this.#dir,
      env: this.#env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#buf = Buffer.alloc(0);
    this.#stderr = '';
    this.#answered = false;
    child.stdout?.on('data', (b: Buffer) => this.#onData(child, b));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.#stderr += s));
    child.stdin?.on('error', () => undefined); // EPIPE after it died; 'close' reports it
    const gone = (err?: Error): void => {
      if (this.#child !== child) return;
      this.#child = undefined;
      const why = err?.message ?? (this.#stderr.trim() || 'git cat-file exited');
      // Never answered, with a usage message: this git has no --batch-command.
      const unsupported = !this.#answered && /usage|unknown option/i.test(this.#stderr);
      this.#failAll(unsupported ? new CatFileUnsupported(why) : new Error(why));
    };
    child.on('error', gone);
    child.on('close', () => gone());
    return child;
  }

  /** Keeps this process alive while answers are due, never while idle. */
  #hold(child: ChildProcess, on: boolean): void {
    for (const h of [child, child.stdin, child.stdout, child.stderr] as ({
      ref?: () => void;
      unref?: () => void;
    } | null)[])
      if (on) h?.ref?.();
      else h?.unref?.();
  }

  #onData(child: ChildProcess, b: Buffer): void {
    if (this.#child !== child) return;
    this.#buf = this.#buf.length === 0 ? b : Buffer.concat([this.#buf, b]);
    this.#answered = true;
    for (;;) {
      const p = this.#pending[0];
      if (p === undefined) break;
      const nl = this.#buf.indexOf(10);
      if (nl < 0) break;
      const header = this.#buf.toString('utf8', 0, nl);
      const [oid = '', type = '', size = ''] = header.split(' ');
      if (size === '' || type === 'missing' || type === 'ambiguous') {
        this.#buf = this.#buf.subarray(nl + 1);
        this.#pending.shift();
        p.resolve(undefined);
        continue;
      }
      const n = Number(size);
      if (!p.contents) {
        this.#buf = this.#buf.subarray(nl + 1);
        this.#pending.shift();
        p.resolve({ oid, type, size: n });
        continue;
      }
      if (this.#buf.length < nl + 1 + n + 1) break; // the rest of the contents is still coming
      // A copy, so the answer keeps no reference to the whole read buffer.
      const data = Buffer.from(this.#buf.subarray(nl + 1, nl + 1 + n));
      this.#buf = this.#buf.subarray(nl + 1 + n + 1);
      this.#pending.shift();
      p.resolve({ oid, type, size: n, data });
    }
    if (this.#pending.length === 0) {
      this.#buf = Buffer.alloc(0);
      this.#hold(child, false);
    }
    this.#arm();
  }

  /** While answers are due: kill after timeoutMs without output; when none is: end after idleMs. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer =
      this.#pending.length > 0
        ? setTimeout(
            () => this.#kill(new Error(`no output for ${this.#timeoutMs} ms; killed`)),
            this.#timeoutMs,
          )
        : setTimeout(() => this.#end(), this.#idleMs);
    this.#timer.unref();
  }

  /** Idle: closing its stdin ends git. */
  #end(): void {
    const child = this.#child;
    this.#child = undefined;
    child?.stdin?.end();
  }

  #failAll(err: Error): void {
    clearTimeout(this.#timer);
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  #kill(err: Error): void {
    const child = this.#child;
    this.#child = undefined;
    this.#failAll(err);
    if (child === undefined) return;
    child.stdin?.end();
    child.kill('SIGKILL');
  }
}
