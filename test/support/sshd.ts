/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) on a free loopback port, for tests of the SSH
 * edge and `orun bootstrap`: a generated ed25519 host key, one generated client key authorized
 * for the current user, run as a child with `-D -e` and stopped with SIGTERM. A missing sshd is a
 * MissingServiceError (the test fails with the fix spelled out), never a skip.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { MissingServiceError } from './services.ts';
import { freePort } from './net.ts';

export { freePort };

export const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Extra sshd_config lines. Default: none. */
  config?: string[];
}

export interface TestSshd {
  host: '127.0.0.1';
  port: number;
  /** The user sshd lets in: the one running the tests. */
  user: string;
  /** Private key authorized to log in (ed25519, no passphrase). */
  clientKey: string;
  /** A second key that is NOT authorized. */
  strangerKey: string;
  /** Host public key line (`ssh-ed25519 AAAA... comment`). */
  hostKey(): string;
  /** Restarts sshd on the same port with a freshly generated host key (a "reinstalled" host). */
  replaceHostKey(): Promise<void>;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

export function keygen(file: string, comment = 'orun-test'): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** Starts sshd in `dir` (created). Call `stop()` in afterEach/afterAll. */
export async function startSshd(dir: string, options: SshdOptions = {}): Promise<TestSshd> {
  if (!existsSync(SSHD))
    throw new MissingServiceError('sshd', `${SSHD} not found (Debian package openssh-server)`);
  mkdirSync(dir, { recursive: true });
  // sshd refuses to start without its privilege separation dir (normally made by its unit).
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const hostKeyFile = join(dir, 'host_key');
  const clientKey = join(dir, 'client_key');
  const strangerKey = join(dir, 'stranger_key');
  keygen(hostKeyFile, 'orun-test-host');
  keygen(clientKey);
  keygen(strangerKey);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  const port = await freePort();
  const user = userInfo().username;
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'Subsystem sftp internal-sftp',
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const c = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = c;
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise<void>((res) => c.once('exit', () => res()));
    for (let i = 0; i < 100; i++) {
      if (c.exitCode !== null) break;
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    c.kill('SIGKILL');
    throw new MissingServiceError('sshd', `it did not listen on 127.0.0.1:${port}: ${stderr.trim()}`);
  };
  const stop = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    host: '127.0.0.1',
    port,
    user,
    clientKey,
    strangerKey,
    hostKey: () => readFileSync(`${hostKeyFile}.pub`, 'utf8').trim(),
    replaceHostKey: async () => {
      await stop();
      keygen(hostKeyFile, 'orun-test-host-2');
      await launch();
    },
    stop,
  };
}
