/**
 * Decrypting sops files, exactly as getsops/sops `Tree.Decrypt` and `decrypt.Data` do, MAC
 * check included (the npm `sops-age` package skips it, so a tampered file would be accepted).
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { isNode, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { duplicateKeyOffsets } from '../../apis/run.orcra.dev/v0alpha/decode.ts';
import { type AgeIdentities, decryptDataKey } from './age.ts';
import {
  type SopsLeaf,
  isEncryptedValue,
  leafBytes,
  leafText,
  leafValue,
  openValue,
  parseEncryptedValue,
  parseLeaf,
} from './cipher.ts';
import { SopsErrorCode, formatPath, sopsError } from './errors.ts';
import { type SopsMetadata, encryptionRule, parseSopsMetadata, pathAad } from './metadata.ts';
import { SecretString } from './secret.ts';
import { type ScalarValue, type TreeNode, stripSopsKey, treeFromJs, treeFromYaml } from './tree.ts';

/** Options of the decrypt functions. */
export interface DecryptOptions {
  /**
   * Return every leaf that was encrypted as a {@link SecretString} (redacted when printed)
   * instead of its plain value. Default: false (plain strings, numbers, booleans).
   */
  secrets?: boolean;
}

/**
 * sops' `MACOnlyEncryptedInitialization`: sha256("sops"), hashed first when `mac_only_encrypted`
 * is set so such a MAC never equals a full one.
 */
const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

/**
 * Decrypts a sops-encrypted YAML file holding exactly one document (a `secrets.yaml`, or a
 * manifest encrypted with e.g. `encrypted_regex: ^(env|data)$`) into plain data, after verifying
 * its MAC. The `sops` key is removed.
 *
 * @throws OrunError `SopsMacMismatch`, `SopsNoMatchingKey`, `SopsMalformed`, `SopsNoKey`, `SopsUnsupported`.
 * @example
 * const keys = await loadAgeIdentities({ env: process.env, dataDir });
 * const data = await decryptSopsDocument(await readFile('secrets.yaml', 'utf8'), keys);
 */
export async function decryptSopsDocument(
  text: string,
  identities: AgeIdentities,
  options: DecryptOptions = {},
): Promise<unknown> {
  const docs = await decryptSopsDocuments(text, identities, options);
  if (docs.length !== 1) {
    throw sopsError(SopsErrorCode.Malformed, `expected one YAML document, found ${docs.length}`, {
      context: { path: '<root>', documents: docs.length },
    });
  }
  return docs[0];
}

/**
 * Decrypts a multi-document sops YAML file. sops writes the same metadata into every document and
 * one MAC over all of them, so the documents are verified together. Metadata is read from the first.
 */
export async function decryptSopsDocuments(
  text: string,
  identities: AgeIdentities,
  options: DecryptOptions = {},
): Promise<unknown[]> {
  return (await openSopsFile(text, identities, options)).documents;
}

/** A decrypted sops file with its data key (what inline `ENC[...]` values elsewhere are sealed with). */
export interface OpenedSopsFile {
  documents: unknown[];
  /** The 32-byte data key. Keep it in memory only. */
  dataKey: Buffer;
  metadata: SopsMetadata;
}

/**
 * Like {@link decryptSopsDocuments}, and also returns the file's data key and metadata: the root
 * `secrets.yaml`'s data key is what inline `ENC[...]` values in plain manifests are sealed with.
 */
export async function openSopsFile(
  text: string,
  identities: AgeIdentities,
  options: DecryptOptions = {},
): Promise<OpenedSopsFile> {
  const docs = parseYaml(text);
  const first = docs[0];
  const rawMeta: unknown = first === undefined ? undefined : yamlSopsBlock(first);
  const metadata = parseSopsMetadata(rawMeta);
  const { documents, key } = await decryptTrees(docs.map(treeFromYaml), metadata, identities, options);
  return { documents, dataKey: key, metadata };
}

/**
 * Decrypts an already-parsed sops document (an object with its `sops` key), e.g. a manifest the
 * loader has parsed. Key order is JS's (integer-like keys first); when it differs from the file's,
 * the MAC fails safely: prefer {@link decryptSopsDocument} on the text when you have it.
 */
export async function decryptSopsObject(
  doc: unknown,
  identities: AgeIdentities,
  options: DecryptOptions = {},
): Promise<unknown> {
  const metadata = parseSopsMetadata(isRecord(doc) ? doc['sops'] : undefined);
  const { documents } = await decryptTrees([stripSopsKey(treeFromJs(doc))], metadata, identities, options);
  return documents[0];
}

/**
 * Decrypts the `ENC[...]` leaves of decoded documents given their file's `sops` metadata block,
 * returning new trees (the inputs are not modified) whose encrypted leaves are
 * {@link SecretString}s. The MAC over all the file's documents is verified. A `sops` key inside
 * the documents is ignored.
 *
 * @example
 * // a Deployment file encrypted with encrypted_regex: ^(env|data)$
 * const [dep] = await decryptSopsSecrets([parsed], parsed.sops, keys);
 * dep.spec.env.DB_PASSWORD;           // SecretString, prints <redacted>
 * dep.spec.env.DB_PASSWORD.reveal();  // the plaintext, for docker create only
 */
export async function decryptSopsSecrets(
  documents: readonly unknown[],
  metadata: unknown,
  identities: AgeIdentities,
): Promise<unknown[]> {
  const trees = documents.map((d) => stripSopsKey(treeFromJs(d)));
  return (await decryptTrees(trees, parseSopsMetadata(metadata), identities, { secrets: true })).documents;
}

/** True when a parsed document carries a sops metadata block (`sops.mac` or `sops.lastmodified`). */
export function isSopsDocument(doc: unknown): boolean {
  if (!isRecord(doc)) return false;
  const meta = doc['sops'];
  return isRecord(meta) && ('mac' in meta || 'lastmodified' in meta);
}

async function decryptTrees(
  trees: readonly TreeNode[],
  metadata: SopsMetadata,
  identities: AgeIdentities,
  options: DecryptOptions,
): Promise<{ documents: unknown[]; key: Buffer }> {
  const key = await decryptDataKey(metadata.age, identities);
  const hash = createHash('sha512');
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const walker: Walker = {
    key,
    hash,
    encrypted: encryptionRule(metadata.rule),
    macOnlyEncrypted: metadata.macOnlyEncrypted,
    secrets: options.secrets === true,
  };
  const out = trees.map((t) => walk(walker, t, [], []));
  verifyMac(metadata, key, hash.digest('hex').toUpperCase());
  return { documents: out, key };
}

interface Walker {
  readonly key: Buffer;
  readonly hash: Hash;
  readonly encrypted: (mapPath: readonly string[]) => boolean;
  readonly macOnlyEncrypted: boolean;
  readonly secrets: boolean;
}

// mapPath holds map keys only (list items reuse their parent's path, as sops' AAD does);
// valuePath adds list indexes, for messages.
function walk(w: Walker, node: TreeNode, mapPath: string[], valuePath: (string | number)[]): unknown {
  switch (node.kind) {
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of node.entries) {
        Object.defineProperty(out, k, {
          value: walk(w, v, [...mapPath, k], [...valuePath, k]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case 'seq':
      return node.items.map((item, i) => walk(w, item, mapPath, [...valuePath, i]));
    case 'scalar':
      return walkScalar(w, node.value, mapPath, valuePath);
  }
}

function walkScalar(
  w: Walker,
  value: ScalarValue,
  mapPath: string[],
  valuePath: (string | number)[],
): unknown {
  if (value === null) return null; // sops does not walk nulls: no MAC, nothing to decrypt
  const encrypted = w.encrypted(mapPath);
  if (!encrypted) {
    if (!w.macOnlyEncrypted) w.hash.update(leafBytes(plainLeaf(value)));
    return typeof value === 'bigint' && Number.isSafeInteger(Number(value)) ? Number(value) : value;
  }
  const leaf = decryptLeaf(w.key, value, mapPath, valuePath);
  w.hash.update(leafBytes(leaf));
  if (w.secrets) {
    const sopsType = leaf.type;
    return new SecretString(
      leafText(leaf),
      typeof value === 'string' ? { sopsType, origin: value } : { sopsType },
    );
  }
  return leafValue(leaf);
}

function decryptLeaf(
  key: Buffer,
  value: ScalarValue,
  mapPath: string[],
  valuePath: (string | number)[],
): SopsLeaf {
  const where = formatPath(valuePath);
  const context = { path: where };
  if (value === '') return { type: 'str', value: '' }; // sops leaves empty strings unencrypted
  if (!isEncryptedValue(value)) {
    throw sopsError(
      SopsErrorCode.MacMismatch,
      `${where}: plaintext where an encrypted value belongs (file tampered?)`,
      {
        context,
      },
    );
  }
  const enc = parseEncryptedValue(value);
  if (typeof enc === 'string') throw sopsError(SopsErrorCode.Malformed, `${where}: ${enc}`, { context });
  const plain = openValue(enc, key, pathAad(mapPath));
  if (plain === undefined) {
    throw sopsError(
      SopsErrorCode.MacMismatch,
      `${where}: value fails authentication (changed, or moved from another path)`,
      { context },
    );
  }
  const leaf = parseLeaf(enc.type, plain);
  if (typeof leaf === 'string') throw sopsError(SopsErrorCode.Malformed, `${where}: ${leaf}`, { context });
  if (leaf.type === 'comment') {
    throw sopsError(SopsErrorCode.Malformed, `${where}: a comment where a value belongs`, { context });
  }
  return leaf;
}

function plainLeaf(value: Exclude<ScalarValue, null>): SopsLeaf {
  if (typeof value === 'string') return { type: 'str', value };
  if (typeof value === 'bigint') return { type: 'int', value };
  if (typeof value === 'boolean') return { type: 'bool', value };
  if (typeof value === 'number') return { type: 'float', value };
  return { type: 'bytes', value };
}

function verifyMac(metadata: SopsMetadata, key: Buffer, computed: string): void {
  const context = { path: 'sops.mac' };
  if (!isEncryptedValue(metadata.mac)) {
    throw sopsError(SopsErrorCode.MacMismatch, 'sops.mac is missing or not encrypted', { context });
  }
  const enc = parseEncryptedValue(metadata.mac);
  if (typeof enc === 'string') throw sopsError(SopsErrorCode.Malformed, `sops.mac: ${enc}`, { context });
  const stored = openValue(enc, key, metadata.macAad);
  if (stored === undefined) {
    throw sopsError(
      SopsErrorCode.MacMismatch,
      'sops.mac fails authentication (lastmodified or mac changed)',
      {
        context,
      },
    );
  }
  const a = Buffer.from(stored.toString('utf8').toUpperCase());
  const b = Buffer.from(computed);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw sopsError(SopsErrorCode.MacMismatch, 'MAC mismatch: the file was changed after it was encrypted', {
      context,
    });
  }
}

function parseYaml(text: string): Document[] {
  // uniqueKeys: false: the library's own check is quadratic in a map's keys (a 1 MiB file of
  // 8,000 values took 2 s); duplicateKeyOffsets does it in one pass.
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    intAsBigInt: true,
    prettyErrors: true,
    uniqueKeys: false,
    lineCounter,
  });
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    const err = doc.errors[0];
    const dup = err === undefined ? duplicateKeyOffsets(doc)[0] : undefined;
    if (err !== undefined || dup !== undefined) {
      const pos = dup === undefined ? err?.linePos?.[0] : lineCounter.linePos(dup);
      const code = err?.code ?? 'DUPLICATE_KEY';
      throw sopsError(
        SopsErrorCode.Malformed,
        `YAML${pos === undefined ? '' : ` at ${pos.line}:${pos.col}`}: ${code}`,
        { context: { path: '<root>', line: pos?.line, col: pos?.col, yamlCode: code } },
      );
    }
  }
  return docs;
}

function yamlSopsBlock(doc: Document): unknown {
  const meta: unknown = doc.get('sops', true);
  return isNode(meta) ? meta.toJSON() : meta;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
