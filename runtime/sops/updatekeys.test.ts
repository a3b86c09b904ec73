import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SopsErrorCode,
  decryptSopsDocuments,
  encryptSopsDocument,
  openInline,
  openSopsFile,
  parseSopsMetadata,
  sealInline,
  updateKeys,
} from './index.ts';
import { parseAllDocuments } from 'yaml';

let mine = '';
let node = '';
let myRecipient = '';
let nodeRecipient = '';
beforeAll(async () => {
  [mine, node] = await Promise.all([generateX25519Identity(), generateX25519Identity()]);
  [myRecipient, nodeRecipient] = await Promise.all([identityToRecipient(mine), identityToRecipient(node)]);
});

const plain = '# database\nDB_PASSWORD: s3cret # the app user\nTLS_KEY: my-private-key\n---\nsecond: 2\n';
const meta = (text: string) =>
  parseSopsMetadata((parseAllDocuments(text)[0]?.toJS() as { sops?: unknown } | undefined)?.sops);

describe('updateKeys (sops updatekeys)', () => {
  it("adds a node's recipient: the node opens the file; values, MAC, lastmodified and data key stay", async () => {
    const text = await encryptSopsDocument(plain, { recipients: [myRecipient] });
    await expect(decryptSopsDocuments(text, [node])).rejects.toMatchObject({
      code: SopsErrorCode.NoMatchingKey,
    });
    const { dataKey } = await openSopsFile(text, [mine]);
    const inline = sealInline('tok123', dataKey, {
      kind: 'Deployment',
      name: 'web',
      path: ['spec', 'env', 'T'],
    });

    const r = await updateKeys(text, [mine], [myRecipient, nodeRecipient]);
    expect(r).toMatchObject({ added: [nodeRecipient], removed: [] });
    const opened = await openSopsFile(r.text, [node]);
    expect(opened.documents).toEqual(await decryptSopsDocuments(text, [mine]));
    expect(opened.dataKey.equals(dataKey)).toBe(true);
    expect(
      openInline(inline, opened.dataKey, {
        kind: 'Deployment',
        name: 'web',
        path: ['spec', 'env', 'T'],
      }).reveal(),
    ).toBe('tok123');
    const [before, after] = [meta(text), meta(r.text)];
    expect(after.lastModified).toBe(before.lastModified);
    expect(after.mac).toBe(before.mac);
    expect(after.age.map((a) => a.recipient)).toEqual([myRecipient, nodeRecipient]);
    // Only the age list changed: the encrypted values and comments are the same text.
    const values = (t: string) => t.split('\n').filter((l) => /^(DB_PASSWORD|TLS_KEY|second|#)/.test(l));
    expect(values(r.text)).toEqual(values(text));
    expect(r.text.split('\n---\n')).toHaveLength(2);
  });

  it('removes a recipient, keeps an unchanged list byte for byte, and needs a key that opens the file', async () => {
    const text = await encryptSopsDocument(plain, { recipients: [myRecipient, nodeRecipient] });
    const r = await updateKeys(text, [node], [nodeRecipient]);
    expect(r).toMatchObject({ added: [], removed: [myRecipient] });
    await expect(decryptSopsDocuments(r.text, [mine])).rejects.toMatchObject({
      code: SopsErrorCode.NoMatchingKey,
    });
    expect(await updateKeys(r.text, [node], [nodeRecipient])).toEqual({
      text: r.text,
      added: [],
      removed: [],
    });
    await expect(updateKeys(r.text, [mine], [myRecipient])).rejects.toMatchObject({
      code: SopsErrorCode.NoMatchingKey,
    });
    const tampered = r.text.replace(/lastmodified: "[^"]+"/, 'lastmodified: "2020-01-01T00:00:00Z"');
    await expect(updateKeys(tampered, [node], [myRecipient])).rejects.toMatchObject({
      code: SopsErrorCode.MacMismatch,
    });
  });
});
