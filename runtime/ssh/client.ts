/**
 * The SSH edge as `orun bootstrap` needs it: connect, run a command, upload a file, close. The
 * real implementation is ssh2-client.ts; fake.ts is the in-memory twin for unit tests. Both
 * pass the same contract suite (client.contract.ts).
 */

/** Error codes of the SSH edge (OrunError.code). Branch on these, never on messages. */
export const SshErrorCode = {
  /** TCP connect, handshake or the ready timeout failed. */
  ConnectFailed: 'SshConnectFailed',
  /** The server refused every authentication method offered. */
  AuthFailed: 'SshAuthFailed',
  /** The private key file could not be read or parsed (or is encrypted and no agent is there). */
  KeyUnusable: 'SshKeyUnusable',
  /** The host presented a key other than the one(s) recorded in known_hosts. */
  HostKeyChanged: 'SshHostKeyChanged',
  /** The host presented a key marked `@revoked` in known_hosts. */
  HostKeyRevoked: 'SshHostKeyRevoked',
  /** known_hosts could not be read or written. */
  KnownHostsFailed: 'SshKnownHostsFailed',
  /** A command could not be started, or the connection dropped while it ran. */
  ExecFailed: 'SshExecFailed',
  /** A command ran longer than its timeout; its channel was closed. */
  Timeout: 'SshTimeout',
  /** The caller's AbortSignal aborted an operation. */
  Aborted: 'SshAborted',
  /** SFTP could not write or chmod the remote file. */
  UploadFailed: 'SshUploadFailed',
  /** Operation on a session that is closed. */
  Closed: 'SshClosed',
} as const;
export type SshErrorCode = (typeof SshErrorCode)[keyof typeof SshErrorCode];

/** Where and how to connect. */
export interface SshTarget {
  host: string;
  /** Default: 22. */
  port?: number;
  /** Default: `root`. */
  user?: string;
  /** Private key file (OpenSSH or PEM format; ed25519 recommended). Required unless `agent` is set. */
  privateKeyPath?: string;
  /**
   * ssh-agent socket to try (after the key file, when both are given). Default: none; the CLI
   * passes `SSH_AUTH_SOCK` when it is set.
   */
  agent?: string;
  /** known_hosts file with accept-new semantics. Default: `~/.ssh/known_hosts`. */
  knownHostsFile?: string;
  /** Handshake + authentication timeout in ms. Default: 20 000. */
  readyTimeoutMs?: number;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. Default: stdin closed at once. */
  stdin?: string | Buffer;
  /** Ms until the channel is closed and the call rejects with `SshTimeout`. Default: 120 000. */
  timeoutMs?: number;
  /** Aborting closes the channel and rejects with `SshAborted`. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit status; -1 when the command died of a signal (see `signal`) or none was reported. */
  code: number;
  /** Signal name without `SIG` when the command was killed by one. */
  signal?: string;
  stdout: string;
  stderr: string;
}

/** An open connection. Methods may run concurrently; `close` is idempotent. */
export interface SshSession {
  /** `user@host:port`, for messages. */
  readonly target: string;
  /**
   * Runs `command` through the remote user's shell. Build it with `shellCommand`/`shellQuote`
   * (quote.ts), never by pasting values. A non-zero exit status resolves; only transport
   * failures, timeouts and aborts reject.
   */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Writes `source` (a local file path or the bytes) to `remotePath` over SFTP, then sets
   * `mode` (octal permission bits; the umask does not apply). Overwrites in place: callers that
   * need an atomic replace upload beside the target and `mv`.
   */
  upload(source: string | Buffer, remotePath: string, mode: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Opens sessions. The real one is `Ssh2Connector`; tests use `FakeSshConnector`. */
export interface SshConnector {
  connect(target: SshTarget, signal?: AbortSignal): Promise<SshSession>;
}

/** `user@host:port` as messages show it. */
export function formatTarget(target: SshTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.user ?? 'root'}@${host}:${target.port ?? 22}`;
}
