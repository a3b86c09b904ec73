import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTree } from '../../test/support/files.ts';
import { encryptSopsDocument, openSopsFile, sealInline } from '../sops/index.ts';
import { validateManifestRepo } from './validate.ts';

const H = 'apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\n';
const roots: string[] = [];
let id = '';
let recipient = '';
let secrets = '';
let dataKey: Buffer;
beforeAll(async () => {
  id = await generateX25519Identity();
  recipient = await identityToRecipient(id);
  secrets = await encryptSopsDocument('db_password: hunter2\ntls: PEM\n', { recipients: [recipient] });
  dataKey = (await openSopsFile(secrets, [id])).dataKey;
});
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function repo(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orun-validate-sops-'));
  roots.push(dir);
  await writeTree(dir, files);
  return dir;
}

const inline = (name: string, key: string, v: string) =>
  sealInline(v, dataKey, { kind: 'Deployment', name, path: ['spec', 'env', key] });

async function sopsDeployment(extra = ''): Promise<string> {
  return encryptSopsDocument(
    `${H}metadata:\n  name: enc\nspec:\n  image: nginx:1\n  env:\n    SECRET: s3cret-value\n${extra}`,
    { recipients: [recipient], encryptedRegex: '^env$' },
  );
}

async function good(): Promise<Record<string, string>> {
  return {
    'secrets.yaml': secrets,
    'deployments/enc.yaml': await sopsDeployment(),
    'deployments/web.yaml': `${H}metadata:\n  name: web\nspec:\n  image: nginx:1\n  env:\n    TOKEN: ${inline('web', 'TOKEN', 'tok')}\n    DB: {secretKeyRef: db_password}\n  secretFiles:\n    - key: tls\n`,
  };
}

const messages = (errors: { format(): string }[]) => errors.map((e) => e.format());

describe('orun validate and SOPS', () => {
  it.each([
    ['without a key (structure only)', false],
    ['with the key (decrypted, MACs verified)', true],
  ])('accepts a repository with secrets.yaml, a SOPS manifest and inline values: %s', async (_n, withKey) => {
    const dir = await repo(await good());
    const r = await validateManifestRepo(dir, withKey ? { identities: [id] } : {});
    expect(messages(r.errors)).toEqual([]);
    expect(r.repo.objects.map((o) => o.metadata.name).sort()).toEqual(['enc', 'web']);
  });

  it('without a key: checks the non-secret fields, not the encrypted ones', async () => {
    const files = await good();
    files['deployments/enc.yaml'] = await sopsDeployment('  ports: [{containerPort: 80, port: 99999}]\n');
    const r = await validateManifestRepo(await repo(files));
    expect(messages(r.errors)).toEqual([
      expect.stringMatching(/^deployments\/enc\.yaml:\d+:\d+: spec\.ports\[0\]\.port: /) as unknown,
    ]);
  });

  it.each<[string, (f: Record<string, string>) => void, boolean, RegExp]>([
    [
      'plaintext where ciphertext belongs',
      (f) =>
        (f['deployments/enc.yaml'] = f['deployments/enc.yaml']!.replace(
          /SECRET: ENC\[[^\]]*\]/,
          'SECRET: plain',
        )),
      false,
      /^deployments\/enc\.yaml:\d+:\d+: spec\.env\.SECRET: SopsMacMismatch: plaintext where an encrypted value belongs$/,
    ],
    [
      'a truncated value',
      (f) =>
        (f['deployments/enc.yaml'] = f['deployments/enc.yaml']!.replace(
          /(SECRET: ENC\[AES256_GCM,data:[^,]*),iv:[^\]]*\]/,
          '$1]',
        )),
      false,
      /spec\.env\.SECRET: SopsMalformed: encrypted value not in the ENC/,
    ],
    [
      'a missing sops block',
      (f) => (f['secrets.yaml'] = 'db_password: hunter2\ntls: x\n'),
      false,
      /^secrets\.yaml:1:1: sops: SopsMalformed: metadata: no `sops` mapping in the document$/,
    ],
    [
      'an edited lastmodified (MAC)',
      (f) =>
        (f['deployments/enc.yaml'] = f['deployments/enc.yaml']!.replace(
          /lastmodified: "[^"]*"/,
          'lastmodified: "2020-01-01T00:00:00Z"',
        )),
      true,
      /^deployments\/enc\.yaml:1:1: sops: SopsMacMismatch: .*sops\.mac fails authentication/,
    ],
    [
      'an inline value moved to another key',
      (f) => (f['deployments/web.yaml'] = f['deployments/web.yaml']!.replace('TOKEN:', 'OTHER:')),
      true,
      /^deployments\/web\.yaml:8:5: spec\.env\.OTHER: SopsMacMismatch: Deployment\/web env OTHER: inline ENC\[\.\.\.\] value fails authentication/,
    ],
    [
      'a secretKeyRef to a key secrets.yaml does not have',
      (f) => (f['deployments/web.yaml'] = f['deployments/web.yaml']!.replace('db_password', 'nope')),
      false,
      /^deployments\/web\.yaml:9:\d+: spec\.env\.DB\.secretKeyRef: secrets\.yaml has no top-level key "nope"$/,
    ],
  ])('refuses %s', async (_name, edit, withKey, message) => {
    const files = await good();
    edit(files);
    const r = await validateManifestRepo(await repo(files), withKey ? { identities: [id] } : {});
    expect(messages(r.errors)).toEqual([expect.stringMatching(message) as unknown]);
    expect(JSON.stringify(messages(r.errors))).not.toMatch(/hunter2|s3cret-value|tok\b/);
  });

  it('with a wrong key: every SOPS file is an error naming no value', async () => {
    const r = await validateManifestRepo(await repo(await good()), {
      identities: [await generateX25519Identity()],
    });
    expect(messages(r.errors).map((m) => m.split(':').slice(0, 1)[0])).toEqual([
      'deployments/enc.yaml',
      'secrets.yaml',
    ]);
    expect(messages(r.errors).join('\n')).toMatch(/SopsNoMatchingKey/);
  });
});
