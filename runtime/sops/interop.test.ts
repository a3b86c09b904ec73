import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { openValue, parseEncryptedValue } from './cipher.ts';
import {
  SopsErrorCode,
  decryptDataKey,
  decryptSopsDocument,
  decryptSopsDocuments,
  decryptToYaml,
  encryptSopsDocument,
  parseSopsMetadata,
} from './index.ts';

// A two-document file encrypted by the real sops 3.7.3 for an age recipient (provenance and
// licence in testdata/README.md). sops (stores/yaml/store.go, stores/metadata.go) writes the same
// `sops` block into every document, reads it from the first only, and computes one MAC over the
// leaves of all documents in order; values are bound to their key path, as in one document.
const dir = new URL('./testdata/', import.meta.url);
const vector = readFileSync(new URL('multidoc.age.yaml', dir), 'utf8');
const identity = readFileSync(new URL('multidoc.id.txt', dir), 'utf8').trim();
const expected = [
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'multi-doc-1' }, stringData: { foo1: 'bar1' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'multi-doc-2' }, stringData: { foo2: 'bar2' } },
];
const [firstDoc = '', secondDoc = ''] = vector.split('\n---\n');

/** The plaintext of a file's MAC (the uppercase SHA-512 hex over its leaves), under the vector's data key. */
async function macPlaintext(text: string): Promise<string> {
  const meta = parseSopsMetadata((parse(firstDoc) as { sops: unknown }).sops);
  const dataKey = await decryptDataKey(meta.age, [identity]);
  const own = parseSopsMetadata((parseAllDocuments(text)[0]?.toJS() as { sops: unknown }).sops);
  const enc = parseEncryptedValue(own.mac);
  if (typeof enc === 'string') throw new Error(enc);
  return openValue(enc, dataKey, own.macAad)?.toString('utf8') ?? '';
}

describe('multi-document sops files (a vector made by the real sops 3.7.3)', () => {
  it('decrypts every document, with the MAC over all of them verified', async () => {
    expect(await decryptSopsDocuments(vector, [identity])).toEqual(expected);
    const { text } = await decryptToYaml(vector, [identity]);
    expect(text).not.toContain('sops');
    expect(parseAllDocuments(text).map((d) => d.toJS() as unknown)).toEqual(expected);
    // One document is asked for, two are there: refused rather than half-read.
    await expect(decryptSopsDocument(vector, [identity])).rejects.toMatchObject({
      code: SopsErrorCode.Malformed,
    });
  });

  it('the MAC binds the documents together: an edit, a dropped or a reordered document is refused', async () => {
    const cases = {
      'a clear field of the second document edited': vector.replace('name: multi-doc-2', 'name: multi-doc-3'),
      'the second document dropped': `${firstDoc}\n`,
      'the documents reordered': `${secondDoc}---\n${firstDoc}\n`,
      'a value moved to the other document': vector.replace(
        /foo2: (ENC\[[^\]]+\])/,
        (_m, enc: string) => `foo1: ${enc}`,
      ),
    };
    for (const [what, text] of Object.entries(cases)) {
      expect(text, what).not.toBe(vector);
      await expect(decryptSopsDocuments(text, [identity]), what).rejects.toMatchObject({
        code: SopsErrorCode.MacMismatch,
      });
    }
  });

  it('reads the metadata from the first document only, as sops does', async () => {
    const laterEdited = `${firstDoc}\n---\n${secondDoc.replace('version: 3.7.3', 'version: 9.9.9')}`;
    expect(await decryptSopsDocuments(laterEdited, [identity])).toEqual(expected);
  });

  it('orun writes the same file sops wrote: a sops block per document and the same MAC', async () => {
    const { text: plain, dataKey } = await decryptToYaml(vector, [identity]);
    const ours = await encryptSopsDocument(plain, {
      recipients: ['age1dk25phcnxzhkryzn7smn29wa4lhsplgvty3skzddr2w5plsh0ddq04ukv3'],
      encryptedRegex: '^(data|stringData)$',
      lastModified: new Date('2023-08-30T17:30:55Z'),
      dataKey,
    });
    const docs = parseAllDocuments(ours).map((d) => d.toJS() as Record<string, unknown>);
    expect(docs).toHaveLength(2);
    // Every document carries the same metadata; the encrypted leaves are those sops encrypted.
    expect(docs[0]?.['sops']).toEqual(docs[1]?.['sops']);
    const real = parseAllDocuments(vector).map((d) => d.toJS() as Record<string, unknown>);
    docs.forEach((d, i) => {
      const { sops: _ours, ...body } = d;
      const { sops: _real, ...realBody } = real[i] ?? {};
      expect(Object.keys(body)).toEqual(Object.keys(realBody));
      expect(JSON.stringify(body).match(/ENC\[/g)?.length).toBe(
        JSON.stringify(realBody).match(/ENC\[/g)?.length,
      );
    });
    expect(ours).toMatch(/\n---\n/);
    // The MAC's plaintext (SHA-512 over the leaves of both documents, in order) is sops's own.
    const oursMac = await macPlaintext(ours);
    expect(oursMac).toMatch(/^[0-9A-F]{128}$/);
    expect(oursMac).toBe(await macPlaintext(vector));
    expect(await decryptSopsDocuments(ours, [identity])).toEqual(expected);
  });
});

describe('one document: orun re-encrypting the real sops example gives sops’s own MAC', () => {
  // getsops/sops's example.yaml as the real sops encrypted it (nested maps, lists, float, bools,
  // comments, an _unencrypted subtree); see testdata/README.md.
  it('same MAC plaintext, values bound to the same paths', async () => {
    const real = readFileSync(new URL('example.age.yaml', dir), 'utf8');
    const id = readFileSync(new URL('id.txt', dir), 'utf8').trim();
    const { text: plain, dataKey, metadata } = await decryptToYaml(real, [id]);
    const ours = await encryptSopsDocument(plain, {
      recipients: [metadata.age[0]?.recipient ?? ''],
      lastModified: new Date(metadata.macAad),
      dataKey,
    });
    const macOf = (text: string): string | undefined => {
      const meta = parseSopsMetadata((parse(text) as { sops: unknown }).sops);
      const enc = parseEncryptedValue(meta.mac);
      if (typeof enc === 'string') throw new Error(enc);
      return openValue(enc, dataKey, meta.macAad)?.toString('utf8');
    };
    expect(macOf(ours)).toMatch(/^[0-9A-F]{128}$/);
    expect(macOf(ours)).toBe(macOf(real));
    // The same leaves are encrypted, in the same order, with the same types.
    const shape = (text: string) => (text.split('\nsops:')[0] ?? '').match(/type:[a-z]+/g);
    expect(shape(ours)).toEqual(shape(real));
  });
});
