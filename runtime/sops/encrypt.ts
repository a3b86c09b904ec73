/**
 * A sops encryptor for age recipients, the mirror of `decrypt.ts` (sops' `Tree.Encrypt`). It
 * exists to make fixtures for tests (there is no sops CLI in Debian); what it writes is what
 * sops writes: values, comments, the age-wrapped data key and the MAC.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  Document,
  Scalar,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Node as YamlNode,
} from 'yaml';
import { ageLibrary } from './age.ts';
import { type SopsLeaf, leafBytes, sealValue } from './cipher.ts';
import { SopsErrorCode, formatPath, sopsError } from './errors.ts';
import {
  DEFAULT_UNENCRYPTED_SUFFIX,
  type SopsRule,
  encryptionRule,
  formatLastModified,
  pathAad,
} from './metadata.ts';

/** Options of {@link encryptSopsDocument}. */
export interface EncryptOptions {
  /** age recipients (`age1…`); the data key is wrapped for each one. Required, at least one. */
  recipients: readonly string[];
  /** At most one rule may be set. Default: `unencryptedSuffix: '_unencrypted'` (as sops). */
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  /** MAC only the encrypted values (sops `--mac-only-encrypted`). Default: false. */
  macOnlyEncrypted?: boolean;
  /** Written as `lastmodified` (seconds, UTC) and bound to the MAC. Default: now. */
  lastModified?: Date;
  /** The 32-byte data key. Default: random. Tests pass one to check it unwraps. */
  dataKey?: Uint8Array;
  /** Written as `sops.version`. Default: `3.10.2`. */
  version?: string;
}

const MAC_ONLY_ENCRYPTED_INIT = createHash('sha256').update('sops').digest();

/**
 * Encrypts YAML text (all documents, comments included) or a plain object into a sops file.
 * YAML aliases are not supported in the input. In an object, safe integers are sops `int`s and
 * other numbers `float`s.
 *
 * @example
 * const text = await encryptSopsDocument('password: hunter2\n', { recipients: [await identityToRecipient(id)] });
 * await decryptSopsDocument(text, [id]); // { password: 'hunter2' }
 */
export async function encryptSopsDocument(
  plain: string | Record<string, unknown>,
  options: EncryptOptions,
): Promise<string> {
  if (options.recipients.length === 0) {
    throw sopsError(SopsErrorCode.Malformed, 'encrypt: at least one age recipient is required');
  }
  const dataKey = options.dataKey ?? randomBytes(32);
  if (dataKey.length !== 32)
    throw sopsError(SopsErrorCode.Malformed, 'encrypt: the data key must be 32 bytes');
  const rule = ruleOf(options);
  const docs = typeof plain === 'string' ? parseDocs(plain) : [new Document(intsAsBigInt(plain))];
  const hash = createHash('sha512');
  if (options.macOnlyEncrypted === true) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const ctx: Ctx = {
    key: dataKey,
    hash,
    encrypted: encryptionRule(rule),
    macOnlyEncrypted: options.macOnlyEncrypted === true,
  };
  for (const doc of docs) encryptDocument(ctx, doc);

  const lastModified = formatLastModified(options.lastModified ?? new Date());
  const mac = sealValue({ type: 'str', value: hash.digest('hex').toUpperCase() }, dataKey, lastModified);
  const age = await Promise.all(
    options.recipients.map(async (r) => ({ recipient: r, enc: await wrapKey(r, dataKey) })),
  );
  const meta: Record<string, unknown> = { age, lastmodified: lastModified, mac, [rule.kind]: rule.value };
  if (options.macOnlyEncrypted === true) meta['mac_only_encrypted'] = true;
  meta['version'] = options.version ?? '3.10.2';
  for (const doc of docs) {
    const node = doc.createNode(meta);
    const lm = node.get('lastmodified', true);
    if (isScalar(lm)) lm.type = Scalar.QUOTE_DOUBLE; // as sops writes it
    for (const entry of (node.get('age') as { items: YamlNode[] }).items) {
      const enc = (entry as unknown as { get(k: string, keep: true): unknown }).get('enc', true);
      if (isScalar(enc)) enc.type = Scalar.BLOCK_LITERAL;
    }
    if (doc.contents === null) doc.contents = doc.createNode({});
    (doc.contents as unknown as { set(k: string, v: unknown): void }).set('sops', node);
  }
  return docs.map((d) => d.toString({ lineWidth: 0 })).join('');
}

/** Wraps a data key for one age recipient, ASCII-armored as in `sops.age[].enc`. */
export async function wrapDataKey(recipient: string, dataKey: Uint8Array): Promise<string> {
  return wrapKey(recipient, dataKey);
}

async function wrapKey(recipient: string, dataKey: Uint8Array): Promise<string> {
  const { Encrypter, armor } = await ageLibrary();
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(dataKey));
}

interface Ctx {
  readonly key: Uint8Array;
  readonly hash: ReturnType<typeof createHash>;
  readonly encrypted: (path: readonly string[]) => boolean;
  readonly macOnlyEncrypted: boolean;
}

function ruleOf(o: EncryptOptions): SopsRule {
  const set = (
    [
      ['unencrypted_suffix', o.unencryptedSuffix],
      ['encrypted_suffix', o.encryptedSuffix],
      ['unencrypted_regex', o.unencryptedRegex],
      ['encrypted_regex', o.encryptedRegex],
    ] as const
  ).filter(([, v]) => v !== undefined && v !== '');
  if (set.length > 1) throw sopsError(SopsErrorCode.Malformed, 'encrypt: set at most one encryption rule');
  const [first] = set;
  return first === undefined
    ? { kind: 'unencrypted_suffix', value: DEFAULT_UNENCRYPTED_SUFFIX }
    : { kind: first[0], value: first[1] ?? '' };
}

function parseDocs(text: string): Document[] {
  const docs = parseAllDocuments(text, { intAsBigInt: true });
  if (!Array.isArray(docs)) return [new Document({})];
  for (const d of docs) {
    if (d.errors.length > 0) throw sopsError(SopsErrorCode.Malformed, `encrypt: YAML: ${d.errors[0]?.code}`);
  }
  return docs;
}

function intsAsBigInt(v: unknown): unknown {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v); // larger: a float, as YAML 1e300 is
  if (Array.isArray(v)) return v.map(intsAsBigInt);
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, intsAsBigInt(x)]));
  }
  return v;
}

function encryptDocument(ctx: Ctx, doc: Document): void {
  const root = doc.contents;
  doc.commentBefore = encryptComment(ctx, doc.commentBefore, []);
  doc.comment = encryptComment(ctx, doc.comment, []);
  if (root === null) return;
  if (!isMap(root)) throw sopsError(SopsErrorCode.Malformed, 'encrypt: a document must be a mapping');
  encryptNode(ctx, root, [], [], []);
}

// mapPath: map keys (the AAD); containerPath: the mapPath of the collection holding this node,
// which is where sops files a scalar's comments; valuePath: for messages.
function encryptNode(
  ctx: Ctx,
  node: unknown,
  mapPath: string[],
  containerPath: string[],
  valuePath: (string | number)[],
): void {
  if (isAlias(node)) {
    throw sopsError(
      SopsErrorCode.Malformed,
      `encrypt: ${formatPath(valuePath)}: YAML aliases are not supported`,
    );
  }
  if (!isNode(node)) return;
  encryptNodeComments(ctx, node, isScalar(node) ? containerPath : mapPath);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      if (isNode(keyNode)) encryptNodeComments(ctx, keyNode, mapPath);
      encryptNode(ctx, pair.value, [...mapPath, key], mapPath, [...valuePath, key]);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => encryptNode(ctx, item, mapPath, mapPath, [...valuePath, i]));
  } else if (isScalar(node)) {
    encryptScalar(ctx, node, mapPath, valuePath);
  }
}

function encryptScalar(ctx: Ctx, node: Scalar, mapPath: string[], valuePath: (string | number)[]): void {
  const leaf = toLeaf(node.value, valuePath);
  if (leaf === undefined) return; // null: sops neither encrypts nor MACs it
  const encrypted = ctx.encrypted(mapPath);
  if (!ctx.macOnlyEncrypted || encrypted) ctx.hash.update(leafBytes(leaf));
  if (!encrypted) return;
  node.value = sealValue(leaf, ctx.key, pathAad(mapPath));
  node.type = Scalar.PLAIN;
  delete node.format;
}

function toLeaf(v: unknown, valuePath: (string | number)[]): SopsLeaf | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return { type: 'str', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: v };
  if (typeof v === 'number') return { type: 'float', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  throw sopsError(SopsErrorCode.Malformed, `encrypt: ${formatPath(valuePath)}: unsupported value`);
}

function encryptNodeComments(ctx: Ctx, node: YamlNode, path: string[]): void {
  node.commentBefore = encryptComment(ctx, node.commentBefore, path);
  node.comment = encryptComment(ctx, node.comment, path);
}

// eemeli/yaml keeps a comment's text after the `#`, lines joined by \n: the same text sops keeps.
function encryptComment<T extends string | null | undefined>(ctx: Ctx, comment: T, path: string[]): T {
  if (typeof comment !== 'string' || comment === '' || !ctx.encrypted(path)) return comment;
  return comment
    .split('\n')
    .map((line) => (line === '' ? line : sealValue({ type: 'comment', value: line }, ctx.key, pathAad(path))))
    .join('\n') as T;
}
