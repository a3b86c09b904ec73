import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommitTrust } from './trust.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'orun-trust-'));
  dirs.push(d);
  return join(d, 'state', 'allowed_signers');
}
const alice = 'alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice';
const bob = 'bob@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob';

describe('CommitTrust', () => {
  it('off until an applied Node turns it on; then its signers verify the next commit, kept 0600 across restarts', () => {
    const file = stateFile();
    const t = new CommitTrust({ stateFile: file });
    expect(t.verify()).toBeUndefined();
    t.adopt({});
    expect(t.source()).toBe('off');
    t.adopt({ verifyCommits: { allowedSigners: [alice] } });
    expect(t.verify()).toEqual({ allowedSignersFile: file });
    expect(readFileSync(file, 'utf8')).toBe(`${alice}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // a restart reads the trust in force before the first fetch
    expect(new CommitTrust({ stateFile: file }).verify()).toEqual({ allowedSignersFile: file });
  });

  it('a verified commit may change the signers or turn verification off', () => {
    const file = stateFile();
    const t = new CommitTrust({ stateFile: file });
    t.adopt({ verifyCommits: { allowedSigners: [alice] } });
    t.adopt({ verifyCommits: { allowedSigners: [alice, bob] } });
    expect(readFileSync(file, 'utf8')).toBe(`${alice}\n${bob}\n`);
    t.adopt({});
    expect(t.verify()).toBeUndefined();
    expect(existsSync(file)).toBe(false);
  });

  it('with --allowed-signers the flag is the only trust: the Node can neither turn it off nor replace it', () => {
    const file = stateFile();
    const t = new CommitTrust({ stateFile: file, flagFile: '/etc/orun/allowed_signers' });
    expect(t.verify()).toEqual({ allowedSignersFile: '/etc/orun/allowed_signers' });
    t.adopt({ verifyCommits: { allowedSigners: [bob] } });
    t.adopt({});
    expect(t.verify()).toEqual({ allowedSignersFile: '/etc/orun/allowed_signers' });
    expect(t.source()).toBe('flag');
    expect(existsSync(file)).toBe(false);
  });
});
