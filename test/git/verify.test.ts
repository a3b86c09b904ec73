/**
 * Signed-commit verification with real git and ssh-keygen signatures, in a depth-1 checkout
 * (`git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=F verify-commit <sha>`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitSource, GitSourceReason } from '../../runtime/git/source.ts';
import { makeBareRemote, requireGit, revisionFile, tempRoot } from './support.ts';
import type { BareRemote } from './support.ts';

const WAIT = { timeout: 10_000, interval: 20 };

beforeAll(() => {
  requireGit();
});

let root: string;
let cleanup: () => void;
let remote: BareRemote;
let trustedKey: string;
let otherKey: string;
let allowedSignersFile: string;
const stops: (() => Promise<void>)[] = [];

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'signer', '-f', file]);
  return file;
}

beforeEach(() => {
  ({ root, cleanup } = tempRoot('orun-git-verify-'));
  remote = makeBareRemote(root);
  trustedKey = keygen(join(root, 'trusted'));
  otherKey = keygen(join(root, 'other'));
  allowedSignersFile = join(root, 'allowed_signers');
  writeFileSync(allowedSignersFile, `test@orun.invalid ${readFileSync(`${trustedKey}.pub`, 'utf8')}`);
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  cleanup();
});

describe('GitSource with verify', () => {
  it('checks out commits signed by an allowed key and refuses unsigned or foreign-signed ones', async () => {
    const a = remote.commit('main', 'signed', { signingKey: trustedKey, files: { 'a.txt': 'a' } });
    const source = new GitSource({
      remote: remote.url,
      dir: join(root, 'data', 'repo'),
      pollInterval: 100,
      verify: { allowedSignersFile },
    });
    const ac = new AbortController();
    const done = source.start(ac.signal);
    stops.push(async () => {
      ac.abort();
      await done;
    });
    await source.synced;
    expect(source.current()?.commit).toBe(a);

    remote.commit('main', 'unsigned', { files: { 'b.txt': 'b' } });
    await vi.waitFor(() => expect(source.status().reason).toBe(GitSourceReason.InvalidCommitSignature), WAIT);
    expect(source.status()).toMatchObject({ ready: false, revision: `main@sha1:${a}` });
    expect(source.status().message).toMatch(/not signed by a key in .*allowed_signers/);
    expect(await revisionFile(source.current(), 'a.txt')).toBe('a');

    const foreign = remote.commit('main', 'signed by someone else', { signingKey: otherKey });
    await vi.waitFor(() => expect(source.status().message).toContain(foreign), WAIT);
    expect(source.status().reason).toBe(GitSourceReason.InvalidCommitSignature);
    expect(source.current()?.commit).toBe(a);

    const c = remote.commit('main', 'signed again', { signingKey: trustedKey });
    await vi.waitFor(() => expect(source.current()?.commit).toBe(c), WAIT);
    expect(source.status().ready).toBe(true);
  });
});
