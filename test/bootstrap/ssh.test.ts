/**
 * The SSH edge against a real OpenSSH server on loopback: the shared SshSession contract,
 * known_hosts accept-new then refusal of a changed host key, and authentication failures.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { SshErrorCode } from '../../runtime/ssh/client.ts';
import { describeSshContract } from '../../runtime/ssh/client.contract.ts';
import { fingerprint } from '../../runtime/ssh/knownhosts.ts';
import { Ssh2Connector } from '../../runtime/ssh/ssh2-client.ts';
import { startSshd } from '../support/sshd.ts';
import type { TestSshd } from '../support/sshd.ts';

let root: string;
let sshd: TestSshd;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'orun-ssh-e2e-'));
  sshd = await startSshd(join(root, 'sshd'));
});
afterAll(async () => {
  await sshd.stop();
  rmSync(root, { recursive: true, force: true });
});

const connector = new Ssh2Connector();
const target = (over: Partial<Parameters<Ssh2Connector['connect']>[0]> = {}) => ({
  host: sshd.host,
  port: sshd.port,
  user: sshd.user,
  privateKeyPath: sshd.clientKey,
  knownHostsFile: join(root, 'known_hosts'),
  ...over,
});

describeSshContract('ssh2 + OpenSSH', async () => {
  const session = await connector.connect(target());
  const dir = mkdtempSync(join(root, 'up-'));
  const data = randomBytes(3 * 1024 * 1024 + 7);
  writeFileSync(join(dir, 'local.bin'), data);
  return {
    session,
    dir,
    localFile: { path: join(dir, 'local.bin'), data },
    readRemote: async (path) => ({ data: await readFile(path), mode: (await stat(path)).mode & 0o777 }),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  };
});

describe('Ssh2Connector against OpenSSH', () => {
  let kh: string;
  beforeEach(() => {
    kh = join(mkdtempSync(join(root, 'kh-')), 'nested', 'known_hosts');
  });
  afterEach(() => rmSync(join(kh, '..', '..'), { recursive: true, force: true }));

  it('accept-new records the host key, then refuses a changed one naming host and fingerprint', async () => {
    const first = await connector.connect(target({ knownHostsFile: kh }));
    expect((await first.exec('id -un')).stdout.trim()).toBe(sshd.user);
    await first.close();
    const [type, b64] = sshd.hostKey().split(' ');
    expect(readFileSync(kh, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${type} ${b64}\n`);
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    // Our fingerprint is the one ssh-keygen prints.
    const keygenFp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', kh], { encoding: 'utf8' }).split(
      ' ',
    )[1];
    expect(fingerprint(Buffer.from(b64 ?? '', 'base64'))).toBe(keygenFp);

    // Known and unchanged: connects, and records nothing new.
    await (await connector.connect(target({ knownHostsFile: kh }))).close();
    expect(readFileSync(kh, 'utf8').split('\n')).toHaveLength(2);

    await sshd.replaceHostKey();
    const err = await connector.connect(target({ knownHostsFile: kh })).catch((e: unknown) => e);
    expect(isOrunError(err, SshErrorCode.HostKeyChanged)).toBe(true);
    const newFp = fingerprint(Buffer.from(sshd.hostKey().split(' ')[1] ?? '', 'base64'));
    expect((err as Error).message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect((err as Error).message).toContain(newFp);
    expect((err as Error).message).toContain(keygenFp);
    expect(readFileSync(kh, 'utf8').split('\n')).toHaveLength(2);
  });

  it.each([
    ['an unauthorized key', () => ({ privateKeyPath: sshd.strangerKey }), SshErrorCode.AuthFailed],
    ['a missing key file', () => ({ privateKeyPath: join(root, 'nope') }), SshErrorCode.KeyUnusable],
    ['a file that is no key', () => ({ privateKeyPath: '/etc/hostname' }), SshErrorCode.KeyUnusable],
    ['a closed port', () => ({ port: 1 }), SshErrorCode.ConnectFailed],
  ])('refuses %s with a clear error', async (_, over, code) => {
    const err = await connector.connect(target({ knownHostsFile: kh, ...over() })).catch((e: unknown) => e);
    expect(isOrunError(err, code), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^ssh: connect /);
    // Never key material in a message.
    expect((err as Error).message).not.toMatch(/PRIVATE KEY|AAAA/);
  });

  it('authenticates through ssh-agent; a passphrase key without an agent is a clear KeyUnusable', async () => {
    const locked = join(root, 'locked_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-C', 'locked', '-f', locked]);
    const err = await connector
      .connect(target({ knownHostsFile: kh, privateKeyPath: locked }))
      .catch((e: unknown) => e);
    expect(isOrunError(err, SshErrorCode.KeyUnusable), String(err)).toBe(true);
    expect((err as Error).message).toContain('load it into ssh-agent');
    expect((err as Error).message).not.toContain('secret-pass');

    const sock = join(root, 'agent.sock');
    const agent = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent)?.[1];
    try {
      execFileSync('ssh-add', ['-q', sshd.clientKey], {
        env: { ...process.env, SSH_AUTH_SOCK: sock },
        stdio: 'ignore',
      });
      // The key file is unusable (locked), the agent holds the authorized key.
      const s = await connector.connect(target({ knownHostsFile: kh, privateKeyPath: locked, agent: sock }));
      expect((await s.exec('echo via-agent')).stdout).toBe('via-agent\n');
      await s.close();
    } finally {
      if (pid) process.kill(Number(pid), 'SIGTERM');
    }
  });
});
