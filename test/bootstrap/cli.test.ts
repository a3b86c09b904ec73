/**
 * `orun bootstrap` as users run it (dist/orun.js) against a real sshd on loopback: `--dry-run`
 * connects, reads the machine and prints the plan without changing anything; bad flags fail
 * before any connection. Only dry runs here: the loopback host is the test machine itself.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSea } from '../support/sea.ts';
import { startSshd } from '../support/sshd.ts';
import type { TestSshd } from '../support/sshd.ts';
import { orun } from './support.ts';

let root: string;
let sshd: TestSshd;
beforeAll(async () => {
  ensureSea(); // what install orun would upload
  root = mkdtempSync(join(tmpdir(), 'orun-bs-cli-'));
  sshd = await startSshd(join(root, 'sshd'));
});
afterAll(async () => {
  await sshd.stop();
  rmSync(root, { recursive: true, force: true });
});

const base = (out: string, ...extra: string[]) => [
  'bootstrap', 'lab-1', '--host', sshd.host, '--port', String(sshd.port), '--user', sshd.user,
  '--identity', sshd.clientKey, '--known-hosts', join(root, 'known_hosts'), '--out', out, ...extra,
]; // prettier-ignore

describe('orun bootstrap --dry-run over real ssh', () => {
  it('prints the plan and the manifest, records the host key, changes nothing', async () => {
    const out = join(root, 'repo');
    const r = await orun(
      base(out, '--repo', 'ssh://git@git.example/m.git', '--label', 'zone=lab', '--dry-run'),
    );
    expect(r.stderr).toMatch(
      new RegExp(`^bootstrap: connect: ok \\(${sshd.user}@127\\.0\\.0\\.1:${sshd.port}\\)$`, 'm'),
    );
    for (const step of [
      'check remote',
      'install docker',
      'install packages',
      'install orun',
      'create data dir',
      'deploy key',
      'age key',
      'write environment',
      'install unit',
      'kernel settings',
      'start service',
      'write manifest',
    ])
      expect(r.stderr).toMatch(new RegExp(`^bootstrap: ${step}: `, 'm'));
    expect(r.stderr).toMatch(/^bootstrap: dry run for node lab-1 .*nothing done/m);
    expect(r.stdout).toContain('# nodes/lab-1.yaml\n');
    expect(r.stdout).toContain('  labels:\n    zone: lab\n');
    expect(r.stdout).toContain('gitRepo: ssh://git@git.example/m.git\n');
    // Exit 0 only when the machine has everything (it has no systemd in a plain container).
    expect(r.code).toBe(r.stderr.includes('would fail') ? 1 : 0);
    expect(existsSync(join(out, 'nodes', 'lab-1.yaml'))).toBe(false);
    expect(readFileSync(join(root, 'known_hosts'), 'utf8')).toContain(sshd.hostKey().split(' ')[1]);
  });

  const repo = ['--repo', 'https://git.example/m.git'];
  it.each([
    [
      'a name that is no DNS-1123 name',
      ['bootstrap', 'Lab_1', '--host', 'h', ...repo],
      /orun: bootstrap: the Node manifest does not validate:\n.*metadata\.name/,
      1,
    ],
    [
      'a bad label',
      ['bootstrap', 'lab-1', '--host', 'h', ...repo, '--label', 'novalue'],
      /--label.*expected key=value/,
      2,
    ],
    [
      'a bad port',
      ['bootstrap', 'lab-1', '--host', 'h', ...repo, '--port', '0'],
      /--port.*expected a port 1-65535/,
      2,
    ],
    ['no --repo', ['bootstrap', 'lab-1', '--host', 'h', '--yes'], /error: bootstrap: missing --repo /, 2],
    ['no --host', ['bootstrap', 'lab-1', ...repo], /error: bootstrap: missing --host /, 2],
  ])('fails before connecting on %s (exit %i: 2 for usage errors)', async (_, args, message, code) => {
    const r = await orun([...args, '--out', join(root, 'x'), '--known-hosts', join(root, 'kh-none')]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('bootstrap: connect');
    expect(existsSync(join(root, 'kh-none'))).toBe(false);
  });

  it('a changed host key fails the connect step naming host and fingerprint', async () => {
    const kh = join(root, 'kh-changed');
    const args = base(
      join(root, 'y'),
      '--repo',
      'https://git.example/m.git',
      '--dry-run',
      '--known-hosts',
      kh,
    );
    await orun(args);
    await sshd.replaceHostKey();
    const r = await orun(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^orun: bootstrap: connect: ssh: connect .*REMOTE HOST KEY CHANGED for \\[127\\.0\\.0\\.1\\]:${sshd.port}: it presented ssh-ed25519 SHA256:`,
        'm',
      ),
    );
  });
});
