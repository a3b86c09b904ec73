/**
 * `orun secrets` as a user without the sops command runs it (the built bundle, a real process),
 * against the real age tools: files it writes carry a data key `age -d` opens and a MAC orun's
 * decryptor verifies; files the real sops wrote decrypt with it; edit leaves no plaintext behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decryptSopsDocument, parseSopsMetadata } from '../../runtime/sops/index.ts';
import { requireCommand } from '../support/services.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ORUN = join(ROOT, 'dist/orun.js');
const VECTORS = join(ROOT, 'runtime/sops/testdata');
let dir = '';
let key = '';
let recipient = '';

function orun(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [ORUN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
    input: opts.input ?? '',
    env: { PATH: process.env.PATH, HOME: dir, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PLAIN = `# secrets of the web app
DB_PASSWORD: hunter2 # the database
PORT: 5432
ratio: 1.5
enabled: true
nested:
  list: [a, b]
note_unencrypted: in clear
`;

beforeAll(() => {
  requireCommand('the age CLI', 'age', ['--version']);
  requireCommand('age-keygen', 'age-keygen', ['--help']);
  dir = mkdtempSync(join(tmpdir(), 'orun-secrets-cli-'));
  key = join(dir, 'age.key');
  execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
  recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
  writeFileSync(
    join(dir, '.sops.yaml'),
    `creation_rules:\n  - path_regex: secrets\\.yaml$\n    age: ${recipient}\n`,
  );
});
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('orun secrets', () => {
  it('encrypt -i follows .sops.yaml and writes the sops format; age -d opens its data key; the MAC verifies', async () => {
    writeFileSync(join(dir, 'secrets.yaml'), PLAIN);
    const r = orun(['secrets', 'encrypt', '-i', 'secrets.yaml']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const text = readFileSync(join(dir, 'secrets.yaml'), 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('note_unencrypted: in clear');
    expect(text).toMatch(
      /^DB_PASSWORD: ENC\[AES256_GCM,data:[^,]+,iv:[^,]+,tag:[^,]+,type:str\] #ENC\[AES256_GCM,.*type:comment\]$/m,
    );
    expect(text).toMatch(/^PORT: ENC\[.*type:int\]$/m);
    const sops = (parse(text) as { sops: Record<string, unknown> }).sops;
    expect(Object.keys(sops)).toEqual(['age', 'lastmodified', 'mac', 'unencrypted_suffix', 'version']);
    const meta = parseSopsMetadata(sops);
    expect(meta.age.map((a) => a.recipient)).toEqual([recipient]);
    const dataKey = execFileSync('age', ['-d', '-i', key], { input: meta.age[0]?.enc });
    expect(dataKey).toHaveLength(32);
    const id =
      readFileSync(key, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('AGE-SECRET-KEY-1')) ?? '';
    expect(await decryptSopsDocument(text, [id])).toMatchObject({
      DB_PASSWORD: 'hunter2',
      PORT: 5432,
      enabled: true,
    });
  });

  it('decrypt prints the plaintext with comments; check verifies with the key from SOPS_AGE_KEY_FILE', () => {
    const d = orun(['secrets', 'decrypt', '--age-key', key, 'secrets.yaml']);
    expect(d.code).toBe(0);
    expect(parse(d.stdout)).toEqual(parse(PLAIN));
    expect(d.stdout).toContain('# the database');
    const c = orun(['secrets', 'check'], { env: { SOPS_AGE_KEY_FILE: key } });
    expect(c).toMatchObject({ code: 0, stdout: 'secrets.yaml: ok (MAC verified, 1 document)\n' });
  });

  it('decrypts files the real sops wrote, and check refuses their tampered twin without printing values', () => {
    const idFile = join(VECTORS, 'id.txt');
    const d = orun(['secrets', 'decrypt', '--age-key', idFile, join(VECTORS, 'example.age.yaml')]);
    expect(d.code).toBe(0);
    const expected = JSON.parse(readFileSync(join(VECTORS, 'expected.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const tree = parse(d.stdout) as Record<string, unknown>;
    for (const [path, value] of Object.entries(expected)) {
      expect(path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], tree)).toEqual(
        value,
      );
    }
    const c = orun(['secrets', 'check', '--age-key', idFile, join(VECTORS, 'tampered.age.yaml')]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(
      /SopsMacMismatch: .*app2\.db\.password: plaintext where an encrypted value belongs/,
    );
  });

  it('edit re-encrypts under the same data key and leaves no plaintext in its tmpfs directory', () => {
    const before = parseSopsMetadata(
      (parse(readFileSync(join(dir, 'secrets.yaml'), 'utf8')) as { sops: unknown }).sops,
    );
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, '#!/bin/sh\nsed -i "s/hunter2/changed-pw/" "$1"\n');
    chmodSync(editor, 0o755);
    const shm = mkdtempSync('/dev/shm/orun-edit-test-');
    try {
      const r = orun(['secrets', 'edit', '--age-key', key, '--tmp-dir', shm, 'secrets.yaml'], {
        env: { EDITOR: editor },
      });
      expect(r).toMatchObject({ code: 0, stderr: 'secrets.yaml: encrypted again\n' });
      expect(readdirSync(shm)).toEqual([]);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
    const text = readFileSync(join(dir, 'secrets.yaml'), 'utf8');
    expect(text).not.toMatch(/changed-pw|hunter2/);
    const after = parseSopsMetadata((parse(text) as { sops: unknown }).sops);
    const open = (enc: string | undefined) => execFileSync('age', ['-d', '-i', key], { input: enc });
    expect(open(after.age[0]?.enc)).toEqual(open(before.age[0]?.enc));
    expect(parse(orun(['secrets', 'decrypt', '--age-key', key, 'secrets.yaml']).stdout)).toMatchObject({
      DB_PASSWORD: 'changed-pw',
    });
    const refused = orun(['secrets', 'edit', '--age-key', key, '--tmp-dir', dir, 'secrets.yaml'], {
      env: { EDITOR: editor },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not a tmpfs; refusing to write plaintext to disk');
  });

  it('encrypt-value seals a value (from stdin) for one Deployment key; orun validate --age-key accepts it there only', () => {
    const v = orun(['secrets', 'encrypt-value', '--deployment', 'web', '--key', 'TOKEN', '--age-key', key], {
      input: 'tok-123\n',
    });
    expect(v.code).toBe(0);
    const enc = v.stdout.trim();
    expect(enc).toMatch(/^ENC\[AES256_GCM,.*type:str\]$/);
    const manifest = (name: string, k: string) =>
      `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  image: nginx:1\n  env:\n    ${k}: ${enc}\n`;
    execFileSync('mkdir', ['-p', join(dir, 'deployments')]);
    writeFileSync(join(dir, 'deployments/web.yaml'), manifest('web', 'TOKEN'));
    expect(orun(['validate', '--age-key', key, '.'])).toMatchObject({ code: 0 });
    writeFileSync(join(dir, 'deployments/web.yaml'), manifest('web', 'OTHER'));
    const moved = orun(['validate', '--age-key', key, '.']);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toContain('deployments/web.yaml:8:5: spec.env.OTHER: SopsMacMismatch');
    expect(moved.stderr).not.toContain('tok-123');
  });

  it("updatekeys adds a node's recipient at once; dropping one needs --yes, and the file is untouched without it", () => {
    const nodeKey = join(dir, 'node.key');
    execFileSync('age-keygen', ['-o', nodeKey], { stdio: 'ignore' });
    const node = execFileSync('age-keygen', ['-y', nodeKey]).toString().trim();
    writeFileSync(join(dir, 'keys.yaml'), 'TOKEN: tok-456\n');
    expect(orun(['secrets', 'encrypt', '-i', '--age', recipient, 'keys.yaml'])).toMatchObject({ code: 0 });
    const decrypt = (k: string) => orun(['secrets', 'decrypt', '--age-key', k, 'keys.yaml']);
    expect(decrypt(nodeKey).code).toBe(1);

    const add = orun([
      'secrets',
      'updatekeys',
      '--age-key',
      key,
      '--age',
      recipient,
      '--age',
      node,
      'keys.yaml',
    ]);
    expect(add).toMatchObject({ code: 0, stdout: `keys.yaml: recipients updated (+${node})\n` });
    expect(parse(decrypt(nodeKey).stdout)).toEqual({ TOKEN: 'tok-456' });

    const before = readFileSync(join(dir, 'keys.yaml'), 'utf8');
    const drop = orun(['secrets', 'updatekeys', '--age-key', key, '--age', recipient, 'keys.yaml']);
    expect(drop.code).toBe(1);
    expect(drop.stderr).toContain(`keys.yaml: would remove recipients ${node}`);
    expect(drop.stderr).toContain('Run again with --yes');
    expect(readFileSync(join(dir, 'keys.yaml'), 'utf8')).toBe(before);
    expect(decrypt(nodeKey).code).toBe(0);

    const yes = orun(['secrets', 'updatekeys', '--yes', '--age-key', key, '--age', recipient, 'keys.yaml']);
    expect(yes).toMatchObject({ code: 0, stdout: `keys.yaml: recipients updated (-${node})\n` });
    expect(decrypt(nodeKey).code).toBe(1);
    expect(parse(decrypt(key).stdout)).toEqual({ TOKEN: 'tok-456' });
    expect(readdirSync(dir).filter((f) => f.endsWith('.orun-secrets.tmp'))).toEqual([]);
  });
});
