import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { decodeManifestFile } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import { encryptSopsDocument } from './index.ts';
import { decryptManifest, hasSopsBlock, ManifestDecryptError } from './manifest.ts';

const PLAIN = {
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: { image: 'orun-test/busybox:1', env: { PASSWORD: 'hunter2', PLAIN: 'x' } },
};

async function encrypted(rule: { encryptedRegex?: string }): Promise<{ text: string; id: string }> {
  const id = await generateX25519Identity();
  const text = await encryptSopsDocument(PLAIN, { recipients: [await identityToRecipient(id)], ...rule });
  return { text, id };
}

describe('decryptManifest', () => {
  it.each([
    { name: 'env only (encrypted_regex)', rule: { encryptedRegex: '^(env)$' } },
    { name: 'every value (sops default rules)', rule: {} },
  ])('$name: env values stay ciphertext, resolvable to plaintext; the rest decodes', async ({ rule }) => {
    const { text, id } = await encrypted(rule);
    expect(hasSopsBlock(text)).toBe(true);
    const out = await decryptManifest(text, [id]);
    expect(out.text.split('\n')).toHaveLength(text.split('\n').length);
    const decoded = decodeManifestFile('deployments/web.yaml', out.text);
    expect(decoded.errors).toEqual([]);
    const env = (decoded.objects[0]?.spec as { env: Record<string, string> }).env;
    expect(env.PASSWORD).toMatch(/^ENC\[AES256_GCM,/);
    expect(out.secrets.get(env.PASSWORD as string)?.reveal()).toBe('hunter2');
    expect(out.text).not.toContain('hunter2');
  });

  it.each([
    { name: 'no key configured', ids: undefined, code: 'SopsNoKey' },
    { name: 'a key that does not match', ids: 'other', code: 'SopsNoMatchingKey' },
  ])('fails as a per-file error: $name', async ({ ids, code }) => {
    const { text } = await encrypted({ encryptedRegex: '^(env)$' });
    const identities = ids === undefined ? undefined : [await generateX25519Identity()];
    const err = await decryptManifest(text, identities).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestDecryptError);
    expect((err as ManifestDecryptError).code).toBe(code);
  });
});

describe('decryptManifest: fields other than spec.env', () => {
  it('names every decrypted path by object (identity fields excepted) and its plaintext, for redaction', async () => {
    const id = await generateX25519Identity();
    const doc = {
      ...PLAIN,
      metadata: { name: 'web', annotations: { token: 'annot-secret' } },
      spec: { ...PLAIN.spec, ports: [{ containerPort: 80, port: 8080 }] },
    };
    const text = await encryptSopsDocument(doc, { recipients: [await identityToRecipient(id)] });
    const out = await decryptManifest(text, [id]);
    expect(out.secretPaths.get('Deployment/web')).toEqual([
      'metadata.annotations.token',
      'spec.image',
      'spec.ports[0].containerPort',
      'spec.ports[0].port',
    ]);
    expect(out.plaintexts).toContain('annot-secret');
    expect(out.plaintexts).not.toContain('web'); // metadata.name stays in clear: it addresses the object
  });
});
