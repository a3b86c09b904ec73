/**
 * SshConnector on ssh2 (pure JavaScript; its optional native addon is not needed). Host keys are
 * checked against known_hosts with accept-new semantics (knownhosts.ts); authentication is by
 * key file and/or ssh-agent. Key material never reaches an error, a log line or a context field.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { OrunError } from '../../apis/errors.ts';
import { SshErrorCode, formatTarget } from './client.ts';
import type { ExecOptions, ExecResult, SshConnector, SshSession, SshTarget } from './client.ts';
import { KnownHosts, fingerprint, hostEntryName, keyTypeOf } from './knownhosts.ts';

const { Client, utils } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

/** Host key algorithms per known_hosts key type, so a known type is asked for first. */
const ALGORITHMS_FOR_TYPE: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
const DEFAULT_READY_TIMEOUT_MS = 20_000;

/** `~/x` → `$HOME/x`; other paths unchanged. */
export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

export class Ssh2Connector implements SshConnector {
  async connect(target: SshTarget, signal?: AbortSignal): Promise<SshSession> {
    const where = formatTarget(target);
    const host = target.host;
    const port = target.port ?? 22;
    const privateKey = await loadKey(target, where);
    const knownHostsFile = expandHome(target.knownHostsFile ?? '~/.ssh/known_hosts');
    const knownHosts = await KnownHosts.load(knownHostsFile).catch((err: unknown) => {
      throw new OrunError(
        SshErrorCode.KnownHostsFailed,
        `ssh: connect ${where}: read known_hosts ${knownHostsFile}: ${(err as Error).message}`,
        { cause: err, context: { target: where, knownHostsFile } },
      );
    });
    const preferred = knownHosts.knownTypes(host, port).flatMap((t) => ALGORITHMS_FOR_TYPE[t] ?? []);
    const check = new HostKeyCheck(knownHosts, knownHostsFile, host, port, where);
    const config: ConnectConfig = {
      host,
      port,
      username: target.user ?? 'root',
      privateKey,
      agent: target.agent,
      readyTimeout: target.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      // A dead peer (node rebooted, network gone) fails pending commands and uploads within a minute.
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => check.verify(blob, verify),
      algorithms:
        preferred.length > 0
          ? { serverHostKey: { remove: preferred, prepend: preferred } as never }
          : undefined,
    };
    const client = new Client();
    await handshake(client, config, where, signal, (err) => {
      if (check.refusal) return check.refusal;
      const auth = err.level === 'client-authentication';
      return new OrunError(
        auth ? SshErrorCode.AuthFailed : SshErrorCode.ConnectFailed,
        auth
          ? `ssh: connect ${where}: authentication refused (tried ${methods(target, privateKey)})`
          : `ssh: connect ${where}: ${err.message}`,
        { cause: err, context: { target: where } },
      );
    });
    return new Ssh2Session(client, where);
  }
}

/**
 * Connects client; resolves once the session is ready. A failed connection rejects with
 * failure(its error), an aborted one with Aborted; either way the client is destroyed.
 */
function handshake(
  client: Ssh2Client,
  config: ConnectConfig,
  where: string,
  signal: AbortSignal | undefined,
  failure: (err: Error & { level?: string }) => OrunError,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      client.destroy();
      reject(
        new OrunError(SshErrorCode.Aborted, `ssh: connect ${where}: aborted`, {
          context: { target: where },
        }),
      );
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    client.once('error', (err: Error & { level?: string }) => {
      signal?.removeEventListener('abort', onAbort);
      client.destroy();
      reject(failure(err));
    });
    client.connect(config);
  });
}

/**
 * ssh2's host verifier: the presented key against known_hosts, accept-new (an unknown host's key
 * is recorded). The verifier cannot throw into ssh2; it records why it refused in `refusal`, and
 * connect() throws that.
 */
class HostKeyCheck {
  refusal: OrunError | undefined;
  readonly #knownHosts: KnownHosts;
  readonly #file: string;
  readonly #host: string;
  readonly #port: number;
  readonly #where: string;

  constructor(knownHosts: KnownHosts, file: string, host: string, port: number, where: string) {
    this.#knownHosts = knownHosts;
    this.#file = file;
    this.#host = host;
    this.#port = port;
    this.#where = where;
  }

  verify(blob: Buffer, verify: (ok: boolean) => void): void {
    const host = this.#host;
    const port = this.#port;
    const where = this.#where;
    const file = this.#file;
    const key = { type: keyTypeOf(blob), blob };
    const fp = fingerprint(blob);
    const name = hostEntryName(host, port);
    const context = { target: where, knownHostsFile: file, fingerprint: fp };
    const verdict = this.#knownHosts.verify(host, port, key);
    switch (verdict.kind) {
      case 'known':
        return verify(true);
      case 'unknown':
        this.#knownHosts.add(host, port, key).then(
          () => verify(true),
          (err: unknown) => {
            this.refusal = new OrunError(
              SshErrorCode.KnownHostsFailed,
              `ssh: connect ${where}: record host key in ${file}: ${(err as Error).message}`,
              { cause: err, context },
            );
            verify(false);
          },
        );
        return;
      case 'revoked':
        this.refusal = new OrunError(
          SshErrorCode.HostKeyRevoked,
          `ssh: connect ${where}: host key ${key.type} ${fp} of ${name} is marked @revoked in ` +
            `${file}:${verdict.line}`,
          { context },
        );
        return verify(false);
      case 'changed': {
        const known = verdict.known.map((k) => `${k.type} ${k.fingerprint} (${file}:${k.line})`).join(', ');
        this.refusal = new OrunError(
          SshErrorCode.HostKeyChanged,
          `ssh: connect ${where}: REMOTE HOST KEY CHANGED for ${name}: it presented ${key.type} ${fp}, ` +
            `known_hosts has ${known}. Someone may be intercepting the connection, or the host was ` +
            `reinstalled; if you trust the new key run: ssh-keygen -R '${name}' -f ${file}`,
          { context },
        );
        return verify(false);
      }
    }
  }
}

function methods(target: SshTarget, privateKey: Buffer | undefined): string {
  const m = [];
  if (privateKey) m.push(`key ${target.privateKeyPath}`);
  if (target.agent) m.push('ssh-agent');
  return m.join(' and ');
}

async function loadKey(target: SshTarget, where: string): Promise<Buffer | undefined> {
  if (target.privateKeyPath === undefined) {
    if (target.agent) return undefined;
    throw new OrunError(
      SshErrorCode.KeyUnusable,
      `ssh: connect ${where}: no private key and no ssh-agent given`,
    );
  }
  const file = expandHome(target.privateKeyPath);
  const fail = (why: string, cause?: unknown) =>
    new OrunError(SshErrorCode.KeyUnusable, `ssh: connect ${where}: private key ${file}: ${why}`, {
      cause,
      context: { target: where, privateKeyPath: file },
    });
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    if (target.agent) return undefined; // the agent may hold the key
    throw fail(
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message,
      err,
    );
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    // ssh2's message says what is wrong (e.g. encrypted without passphrase) and holds no key bytes.
    if (target.agent) return undefined;
    throw fail(`${parsed.message} (for a passphrase-protected key, load it into ssh-agent)`);
  }
  return data;
}

class Ssh2Session implements SshSession {
  readonly target: string;
  readonly #client: Ssh2Client;
  #sftp?: Promise<SFTPWrapper>;
  #closed = false;
  readonly #ended: Promise<void>;

  constructor(client: Ssh2Client, target: string) {
    this.#client = client;
    this.target = target;
    this.#ended = new Promise((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {
      // Later transport errors surface through the pending operation's stream/callback.
    });
    void this.#ended.then(() => (this.#closed = true));
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const short = command.length > 120 ? `${command.slice(0, 117)}...` : command;
    const fail = (code: SshErrorCode, why: string, cause?: unknown) =>
      new OrunError(code, `ssh: exec on ${this.target}: ${why}`, {
        cause,
        context: { target: this.target, command: short },
      });
    if (this.#closed) return Promise.reject(fail(SshErrorCode.Closed, 'session is closed'));
    if (signal?.aborted) return Promise.reject(fail(SshErrorCode.Aborted, 'aborted'));
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      const finish = (err: OrunError | undefined, result?: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          channel?.close();
          reject(err);
        } else resolve(result as ExecResult);
      };
      const timer = setTimeout(
        () => finish(fail(SshErrorCode.Timeout, `timed out after ${timeoutMs}ms: ${short}`)),
        timeoutMs,
      );
      const onAbort = () => finish(fail(SshErrorCode.Aborted, `aborted: ${short}`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#client.exec(command, (err, stream) => {
        if (err) return finish(fail(SshErrorCode.ExecFailed, `start: ${err.message}`, err));
        channel = stream;
        if (settled) return void stream.close();
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let exit: { code: number; signal?: string } | undefined;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errs.push(d));
        stream.on('exit', (code: number | null, sig?: string) => {
          exit = typeof code === 'number' ? { code } : { code: -1, signal: sig ?? undefined };
        });
        stream.on('close', () => {
          if (!exit)
            return finish(
              fail(SshErrorCode.ExecFailed, `the connection closed before the command exited: ${short}`),
            );
          finish(undefined, {
            ...exit,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errs).toString('utf8'),
          });
        });
        stream.end(options.stdin);
      });
    });
  }

  async upload(
    source: string | Buffer,
    remotePath: string,
    mode: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const fail = (why: string, cause?: unknown, code: SshErrorCode = SshErrorCode.UploadFailed) =>
      new OrunError(code, `ssh: upload to ${this.target}:${remotePath}: ${why}`, {
        cause,
        context: { target: this.target, remotePath, source: typeof source === 'string' ? source : 'bytes' },
      });
    if (this.#closed) throw fail('session is closed', undefined, SshErrorCode.Closed);
    if (signal?.aborted) throw fail('aborted', undefined, SshErrorCode.Aborted);
    const sftp = await this.#openSftp().catch((err: unknown) => {
      throw fail(`open SFTP: ${(err as Error).message}`, err);
    });
    const done = (op: (cb: (err?: Error | null) => void) => void, what: string) =>
      new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(fail('aborted', undefined, SshErrorCode.Aborted));
        signal?.addEventListener('abort', onAbort, { once: true });
        op((err) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(fail(`${what}: ${err.message}`, err));
          else resolve();
        });
      });
    if (typeof source === 'string')
      await done((cb) => sftp.fastPut(source, remotePath, { mode }, cb), 'write');
    else await done((cb) => sftp.writeFile(remotePath, source, { mode }, cb), 'write');
    await done((cb) => sftp.chmod(remotePath, mode, cb), 'chmod');
  }

  #openSftp(): Promise<SFTPWrapper> {
    this.#sftp ??= new Promise<SFTPWrapper>((resolve, reject) =>
      this.#client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
    );
    void this.#sftp.catch(() => (this.#sftp = undefined));
    return this.#sftp;
  }

  async close(): Promise<void> {
    if (!this.#closed) this.#client.end();
    await this.#ended;
  }
}
