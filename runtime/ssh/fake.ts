/**
 * In-memory SshConnector for unit tests: each command goes to a handler you supply (a scripted
 * remote machine), uploads land in `files`, and every call is recorded in order. Timeouts,
 * aborts and `close` behave as in ssh2-client.ts (the contract suite checks both).
 */
import { readFile } from 'node:fs/promises';
import { OrunError } from '../../apis/errors.ts';
import { SshErrorCode, formatTarget } from './client.ts';
import type { ExecOptions, ExecResult, SshConnector, SshSession, SshTarget } from './client.ts';

/** Answers one command. Return a never-settling promise to simulate a hang. */
export type FakeExecHandler = (
  command: string,
  stdin: Buffer | undefined,
  session: FakeSshSession,
) => ExecResult | Promise<ExecResult>;

export interface FakeFile {
  data: Buffer;
  mode: number;
}

/** One recorded call, in order: what a test asserts the command sequence with. */
export type FakeSshCall =
  | { op: 'exec'; command: string; stdin?: string }
  | { op: 'upload'; remotePath: string; mode: number; bytes: number };

export class FakeSshSession implements SshSession {
  readonly target: string;
  readonly calls: FakeSshCall[] = [];
  /** Files uploaded (and any a handler puts here), by remote path. */
  readonly files = new Map<string, FakeFile>();
  closed = false;
  readonly #handler: FakeExecHandler;

  constructor(target: string, handler: FakeExecHandler) {
    this.target = target;
    this.#handler = handler;
  }

  /** Just the commands run, in order. */
  get commands(): string[] {
    return this.calls.flatMap((c) => (c.op === 'exec' ? [c.command] : []));
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const fail = (code: SshErrorCode, why: string) =>
      new OrunError(code, `ssh: exec on ${this.target}: ${why}`, {
        context: { target: this.target, command },
      });
    if (this.closed) throw fail(SshErrorCode.Closed, 'session is closed');
    if (options.signal?.aborted) throw fail(SshErrorCode.Aborted, 'aborted');
    const stdin = options.stdin === undefined ? undefined : Buffer.from(options.stdin);
    this.calls.push({ op: 'exec', command, ...(stdin ? { stdin: stdin.toString('utf8') } : {}) });
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        Promise.resolve(this.#handler(command, stdin, this)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(fail(SshErrorCode.Timeout, `timed out after ${timeoutMs}ms`)),
            timeoutMs,
          );
          onAbort = () => reject(fail(SshErrorCode.Aborted, 'aborted'));
          options.signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async upload(
    source: string | Buffer,
    remotePath: string,
    mode: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const fail = (code: SshErrorCode, why: string) =>
      new OrunError(code, `ssh: upload to ${this.target}:${remotePath}: ${why}`, {
        context: { target: this.target, remotePath },
      });
    if (this.closed) throw fail(SshErrorCode.Closed, 'session is closed');
    if (signal?.aborted) throw fail(SshErrorCode.Aborted, 'aborted');
    const data =
      typeof source === 'string'
        ? await readFile(source).catch((err: unknown) => {
            throw fail(SshErrorCode.UploadFailed, `write: ${(err as Error).message}`);
          })
        : Buffer.from(source);
    this.calls.push({ op: 'upload', remotePath, mode, bytes: data.length });
    this.files.set(remotePath, { data, mode });
  }

  async close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export interface FakeSshConnectorOptions {
  /** Answers every command of every session. */
  handler: FakeExecHandler;
  /** When set, connect() rejects with it (e.g. an SshHostKeyChanged OrunError). */
  connectError?: OrunError;
}

export class FakeSshConnector implements SshConnector {
  /** Every session opened, in order. */
  readonly sessions: FakeSshSession[] = [];
  readonly targets: SshTarget[] = [];
  readonly #options: FakeSshConnectorOptions;

  constructor(options: FakeSshConnectorOptions) {
    this.#options = options;
  }

  async connect(target: SshTarget, signal?: AbortSignal): Promise<FakeSshSession> {
    this.targets.push(target);
    if (signal?.aborted)
      throw new OrunError(SshErrorCode.Aborted, `ssh: connect ${formatTarget(target)}: aborted`);
    if (this.#options.connectError) throw this.#options.connectError;
    const session = new FakeSshSession(formatTarget(target), this.#options.handler);
    this.sessions.push(session);
    return Promise.resolve(session);
  }
}
