/**
 * `sops updatekeys` for age: wraps a file's data key for a new list of recipients (e.g. a node's
 * key added to `.sops.yaml` after the file was written) and touches nothing else. Values,
 * comments, `lastmodified` and the MAC stay as they are (the MAC is sealed with the data key, not
 * a recipient), and so does the data key, so inline `ENC[...]` values sealed with it still open.
 */
import { Scalar, isMap, parseAllDocuments } from 'yaml';
import type { AgeIdentities } from './age.ts';
import { openSopsFile } from './decrypt.ts';
import { wrapDataKey } from './encrypt.ts';
import { SopsErrorCode, sopsError } from './errors.ts';

export interface UpdatedKeys {
  /** The file with its `sops.age` list replaced (the input, unchanged, when nothing changed). */
  text: string;
  added: string[];
  removed: string[];
}

/**
 * Opens the file with `identities` (its MAC verified) and wraps its data key for exactly
 * `recipients`. Recipients kept keep their existing entry. Throws `SopsUnsupported` for files
 * whose keys are in `key_groups`, and what {@link openSopsFile} throws.
 */
export async function updateKeys(
  text: string,
  identities: AgeIdentities,
  recipients: readonly string[],
): Promise<UpdatedKeys> {
  if (recipients.length === 0)
    throw sopsError(SopsErrorCode.Malformed, 'updatekeys: at least one age recipient is required');
  const { dataKey, metadata } = await openSopsFile(text, identities);
  const docs = parseAllDocuments(text, { intAsBigInt: true });
  const list = Array.isArray(docs) ? docs : [];
  const before = metadata.age.map((a) => a.recipient);
  const added = recipients.filter((r) => !before.includes(r));
  const removed = before.filter((r) => !recipients.includes(r));
  if (added.length === 0 && removed.length === 0) return { text, added, removed };
  const entries = await Promise.all(
    recipients.map(async (recipient) => ({
      recipient,
      enc:
        metadata.age.find((a) => a.recipient === recipient)?.enc ?? (await wrapDataKey(recipient, dataKey)),
    })),
  );
  for (const doc of list) {
    const sops = isMap(doc.contents) ? doc.contents.get('sops', true) : undefined;
    if (!isMap(sops)) throw sopsError(SopsErrorCode.Malformed, 'updatekeys: a document has no sops block');
    if (sops.has('key_groups'))
      throw sopsError(
        SopsErrorCode.Unsupported,
        'updatekeys: keys in key_groups are not supported; use sops',
      );
    const node = doc.createNode(entries);
    for (const entry of node.items) {
      const enc = entry.get('enc', true);
      if (enc instanceof Scalar) enc.type = Scalar.BLOCK_LITERAL; // as sops writes it
    }
    sops.set('age', node);
  }
  return { text: list.map((d) => d.toString({ lineWidth: 0 })).join(''), added, removed };
}
