import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import {
  encryptSopsDocument,
  loadRootSecrets,
  openInlineValues,
  openSopsFile,
  sealInline,
} from '../sops/index.ts';
import { secretsFingerprint } from './secrets.ts';

let id = '';
let text = '';
beforeAll(async () => {
  id = await generateX25519Identity();
  text = await encryptSopsDocument('DB_PASSWORD: hunter2\nPORT: 5432\nnested:\n  a: b\n', {
    recipients: [await identityToRecipient(id)],
  });
});

describe('loadRootSecrets', () => {
  it('is absent without a secrets.yaml', async () => {
    expect(await loadRootSecrets(undefined, () => Promise.resolve([id]))).toEqual({
      secrets: { state: 'absent' },
    });
  });

  it('decrypts top-level scalars as redacted values and keeps the data key', async () => {
    const { secrets, error } = await loadRootSecrets(text, () => Promise.resolve([id]));
    expect(error).toBeUndefined();
    if (secrets.state !== 'ready') throw new Error(secrets.state);
    expect([...secrets.values.keys()]).toEqual(['DB_PASSWORD', 'PORT']);
    expect(secrets.values.get('DB_PASSWORD')?.reveal()).toBe('hunter2');
    expect(secrets.values.get('PORT')?.reveal()).toBe('5432');
    expect(JSON.stringify([...secrets.values])).not.toContain('hunter2');
    expect(secretsFingerprint(secrets)).not.toContain('hunter2');
  });

  it.each([
    ['no age key', undefined, 'SopsNoKey', (t: string) => t],
    ['a wrong key', 'other', 'SopsNoMatchingKey', (t: string) => t],
    [
      'a tampered value',
      'right',
      'SopsMacMismatch',
      (t: string) => t.replace(/^PORT: ENC\[AES256_GCM,data:[^,]*/m, 'PORT: ENC[AES256_GCM,data:AAAA'),
    ],
  ])('fails with %s, as an error of secrets.yaml that names no value', async (_name, which, code, edit) => {
    const ids = which === undefined ? undefined : which === 'right' ? [id] : [await generateX25519Identity()];
    const { secrets, error } = await loadRootSecrets(edit(text), () => Promise.resolve(ids));
    expect(secrets).toMatchObject({ state: 'failed', code });
    expect(error).toMatchObject({ file: 'secrets.yaml', line: 1, code });
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });
});

describe('openInlineValues', () => {
  const manifest = (envLine: string) =>
    decodeManifestFile(
      'deployments/web.yaml',
      `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: a:1\n  env:\n    PLAIN: x\n    ${envLine}\n`,
    );

  it('opens values bound to their Deployment and key', async () => {
    const { dataKey } = await openSopsFile(text, [id]);
    const ct = sealInline('inline-secret', dataKey, {
      kind: 'Deployment',
      name: 'web',
      path: ['spec', 'env', 'TOKEN'],
    });
    const m = manifest(`TOKEN: ${ct}`);
    const out = openInlineValues({ path: 'deployments/web.yaml', objects: m.objects }, dataKey, m.locate);
    expect(out.errors).toEqual([]);
    expect(out.secrets.get(ct)?.reveal()).toBe('inline-secret');
  });

  it('refuses a value moved to another key with file:line:col and the key name', async () => {
    const { dataKey } = await openSopsFile(text, [id]);
    const ct = sealInline('inline-secret', dataKey, {
      kind: 'Deployment',
      name: 'web',
      path: ['spec', 'env', 'TOKEN'],
    });
    const m = manifest(`OTHER: ${ct}`);
    const out = openInlineValues({ path: 'deployments/web.yaml', objects: m.objects }, dataKey, m.locate);
    expect(out.secrets.size).toBe(0);
    expect(out.errors).toEqual([
      {
        file: 'deployments/web.yaml',
        line: 9,
        col: 5,
        path: 'spec.env.OTHER',
        code: 'SopsMacMismatch',
        message: expect.stringMatching(
          /^Deployment\/web env OTHER: inline ENC\[\.\.\.\] value fails authentication/,
        ) as unknown,
      },
    ]);
  });

  it('without a data key opens nothing and reports nothing (the Deployment stalls instead)', () => {
    const m = manifest('TOKEN: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]');
    const out = openInlineValues({ path: 'deployments/web.yaml', objects: m.objects }, undefined, m.locate);
    expect(out).toEqual({ secrets: new Map(), errors: [] });
  });
});
