import { readFileSync } from 'node:fs';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openValue, parseEncryptedValue } from './cipher.ts';
import { decryptDataKey, encryptSopsDocument, parseSopsMetadata } from './index.ts';

// Comments are encrypted but never in the MAC, so decryption ignores them; these tests pin the
// AAD sops binds them to (the path of the collection holding them), checked against the real vector.
function openComment(line: string, key: Buffer, aad: string): string | undefined {
  const enc = parseEncryptedValue(line.trim().replace(/^#/, ''));
  if (typeof enc === 'string') throw new Error(enc);
  expect(enc.type).toBe('comment');
  return openValue(enc, key, aad)?.toString('utf8');
}

describe('encrypted comments', () => {
  it('the real vector binds comments to their parent path', async () => {
    const dir = new URL('./testdata/', import.meta.url);
    const text = readFileSync(new URL('example.age.yaml', dir), 'utf8');
    const id = readFileSync(new URL('id.txt', dir), 'utf8').trim();
    const key = await decryptDataKey(parseSopsMetadata((parse(text) as { sops: unknown }).sops).age, [id]);
    const comments = text.split('\n').filter((l) => l.trim().startsWith('#ENC['));
    expect(comments).toHaveLength(4);
    const [db, ...nested] = comments;
    expect(openComment(db ?? '', key, 'app2:db:')).toBeTypeOf('string');
    for (const c of nested) expect(openComment(c, key, 'this:is:a:nested:')).toBeTypeOf('string');
    expect(openComment(db ?? '', key, 'app2:db:password:')).toBeUndefined();
  });

  it('our encryptor binds them the same way and keeps the text after #', async () => {
    const id = await generateX25519Identity();
    const dataKey = Buffer.alloc(32, 7);
    const src = '# top\na: 1\nlist:\n  # in list\n  - x\nmap:\n  # in map\n  k: v\n';
    const text = await encryptSopsDocument(src, { recipients: [await identityToRecipient(id)], dataKey });
    const comments = text.split('\n').filter((l) => l.trim().startsWith('#ENC['));
    expect(comments.map((c, i) => openComment(c, dataKey, [':', 'list:', 'map:'][i] ?? ''))).toEqual([
      ' top',
      ' in list',
      ' in map',
    ]);
  });
});
