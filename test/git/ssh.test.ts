/**
 * GitSource over ssh:// against a real sshd on a loopback port, authenticating with a deploy key
 * through GIT_SSH_COMMAND and recording the host key in a known_hosts under the data dir.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitSource, GitSourceReason } from '../../runtime/git/source.ts';
import { makeBareRemote, requireGit, revisionFile, tempRoot } from './support.ts';
import { startSshd, type TestSshd } from '../support/sshd.ts';

const WAIT = { timeout: 15_000, interval: 20 };

let root: string;
let cleanup: () => void;
let sshd: TestSshd;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  requireGit();
  ({ root, cleanup } = tempRoot('orun-git-ssh-'));
  sshd = await startSshd(join(root, 'sshd'));
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await sshd.stop();
  cleanup();
});

function run(source: GitSource): void {
  const ac = new AbortController();
  const done = source.start(ac.signal);
  stops.push(async () => {
    ac.abort();
    await done;
  });
}

describe('GitSource over ssh://', () => {
  it('syncs with a deploy key and records the host key under the data dir', async () => {
    const remote = makeBareRemote(root);
    const a = remote.commit('main', 'over ssh', { files: { 'x.txt': 'x' } });
    const dataDir = join(root, 'data');
    const source = new GitSource({
      remote: `ssh://${sshd.user}@127.0.0.1:${sshd.port}${remote.path}`,
      dir: join(dataDir, 'repo'),
      pollInterval: 150,
      sshKeyPath: sshd.clientKey,
    });
    run(source);
    await source.synced;
    expect(source.current()?.commit).toBe(a);
    expect(await revisionFile(source.current(), 'x.txt')).toBe('x');
    const knownHosts = readFileSync(join(dataDir, 'known_hosts'), 'utf8');
    expect(knownHosts).toContain(sshd.hostKey().split(' ')[1]);

    const b = remote.commit('main', 'second');
    await vi.waitFor(() => expect(source.current()?.commit).toBe(b), WAIT);
  });

  it('refuses a changed host key and a key that is not authorized', async () => {
    const remote = makeBareRemote(root);
    remote.commit('main', 'a');
    const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${remote.path}`;
    const knownHostsFile = join(root, 'kh');
    writeFileSync(
      knownHostsFile,
      `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBsPkZ6Bf1Wk9xjOjQbJ2U9nvEIQfyXq5ZbVZ3x9g1jR\n`,
    );
    const spoofed = new GitSource({
      remote: url,
      dir: join(root, 'a'),
      pollInterval: 150,
      sshKeyPath: sshd.clientKey,
      knownHostsFile,
    });
    const noKey = new GitSource({
      remote: url,
      dir: join(root, 'b'),
      pollInterval: 150,
      sshKeyPath: join(root, 'sshd', 'host_key'),
      knownHostsFile: join(root, 'kh2'),
    });
    run(spoofed);
    run(noKey);
    await vi.waitFor(() => expect(spoofed.status().consecutiveFailures).toBeGreaterThan(0), WAIT);
    await vi.waitFor(() => expect(noKey.status().consecutiveFailures).toBeGreaterThan(0), WAIT);
    expect(spoofed.status()).toMatchObject({ ready: false, reason: GitSourceReason.GitOperationFailed });
    expect(spoofed.status().message).toMatch(/host key/i);
    expect(noKey.status().message).toMatch(/Permission denied/);
  });
});
