/**
 * A real OpenSSH server on a loopback port for ssh:// git tests: generated host key, one
 * authorized deploy key, run as a child (`sshd -D`) and stopped with SIGTERM.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { MissingServiceError } from '../support/services.ts';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  user: string;
  /** Private key authorized to log in. */
  deployKey: string;
  /** Host public key line (`ssh-ed25519 AAAA...`). */
  hostKey: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
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

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'orun-test', '-f', file]);
}

export async function startSshd(dir: string): Promise<Sshd> {
  if (!existsSync(SSHD))
    throw new MissingServiceError('sshd', `${SSHD} not found (Debian package openssh-server)`);
  mkdirSync(dir, { recursive: true });
  // sshd refuses to start without its privilege separation dir (normally made by its unit).
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const hostKeyFile = join(dir, 'host_key');
  const deployKey = join(dir, 'deploy_key');
  keygen(hostKeyFile);
  keygen(deployKey);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${deployKey}.pub`));
  const port = await freePort();
  const user = userInfo().username;
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1`,
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
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await canConnect(port)) {
      return {
        port,
        user,
        deployKey,
        hostKey: readFileSync(`${hostKeyFile}.pub`, 'utf8').trim(),
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new MissingServiceError('sshd', `it did not listen on 127.0.0.1:${port}: ${stderr.trim()}`);
}
