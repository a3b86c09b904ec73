/**
 * A sops YAML file back to its plaintext YAML, comments, key order and value types kept (what
 * `sops -d` prints, and what `orun secrets edit` hands to the editor), after the MAC is verified.
 * The mirror of encrypt.ts: the same paths are the AAD of values and comments.
 */
import {
  Scalar,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { type AgeIdentities } from './age.ts';
import { isEncryptedValue, leafValue, openValue, parseEncryptedValue, parseLeaf } from './cipher.ts';
import { openSopsFile } from './decrypt.ts';
import { SopsErrorCode, sopsError } from './errors.ts';
import { type SopsMetadata, encryptionRule, pathAad } from './metadata.ts';

export interface PlainSopsFile {
  /** The plaintext YAML (every document, comments decrypted, no `sops` block). */
  text: string;
  /** The data key, to encrypt the edited text again under the same key (as `sops edit`). */
  dataKey: Buffer;
  metadata: SopsMetadata;
}

/** Decrypts a sops YAML file to plaintext YAML text, after verifying its MAC. */
export async function decryptToYaml(text: string, identities: AgeIdentities): Promise<PlainSopsFile> {
  const { dataKey, metadata } = await openSopsFile(text, identities);
  const encrypted = encryptionRule(metadata.rule);
  const docs = parseAllDocuments(text, { intAsBigInt: true });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    const root = doc.contents;
    if (isMap(root)) root.delete('sops');
    const ctx = { key: dataKey, encrypted };
    doc.commentBefore = openComment(ctx, doc.commentBefore, []);
    doc.comment = openComment(ctx, doc.comment, []);
    openNode(ctx, doc, root, [], []);
  }
  return { text: list.map((d) => d.toString({ lineWidth: 0 })).join(''), dataKey, metadata };
}

interface Ctx {
  key: Buffer;
  encrypted: (path: readonly string[]) => boolean;
}

function openNode(ctx: Ctx, doc: Document, node: unknown, mapPath: string[], containerPath: string[]): void {
  if (isAlias(node) || !isNode(node)) return;
  openComments(ctx, node, isScalar(node) ? containerPath : mapPath);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (isNode(pair.key)) openComments(ctx, pair.key, mapPath);
      openNode(ctx, doc, pair.value, [...mapPath, key], mapPath);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) openNode(ctx, doc, item, mapPath, mapPath);
  } else if (isScalar(node) && isEncryptedValue(node.value) && ctx.encrypted(mapPath)) {
    const enc = parseEncryptedValue(node.value);
    const plain = typeof enc === 'string' ? undefined : openValue(enc, ctx.key, pathAad(mapPath));
    const leaf = plain === undefined || typeof enc === 'string' ? undefined : parseLeaf(enc.type, plain);
    if (leaf === undefined || typeof leaf === 'string') {
      throw sopsError(SopsErrorCode.MacMismatch, `${mapPath.join('.')}: value fails authentication`);
    }
    node.value = leaf.type === 'int' || leaf.type === 'int64' ? leaf.value : leafValue(leaf);
    const text = String(node.value);
    node.type =
      leaf.type !== 'str'
        ? Scalar.PLAIN
        : text.includes('\n') && text.trim() === text.replace(/\n$/, '')
          ? Scalar.BLOCK_LITERAL
          : needsQuotes(text)
            ? Scalar.QUOTE_DOUBLE
            : Scalar.PLAIN;
    // A float that happens to be whole stays a float (1.0), so encrypting it again keeps its type.
    if (leaf.type === 'float') node.minFractionDigits = 1;
  }
}

/** A string that YAML would read as another type, or that has leading/trailing space, is quoted. */
function needsQuotes(s: string): boolean {
  return (
    s === '' ||
    s.trim() !== s ||
    /^(?:true|false|null|~|yes|no|on|off|[-+]?[\d.]+(?:e[-+]?\d+)?)$/i.test(s) ||
    /[:#\n]/.test(s)
  );
}

function openComments(ctx: Ctx, node: YamlNode, path: string[]): void {
  node.commentBefore = openComment(ctx, node.commentBefore, path);
  node.comment = openComment(ctx, node.comment, path);
}

function openComment<T extends string | null | undefined>(ctx: Ctx, comment: T, path: string[]): T {
  if (typeof comment !== 'string' || !comment.includes('ENC[')) return comment;
  return comment
    .split('\n')
    .map((line) => {
      const t = line.trim();
      if (!isEncryptedValue(t)) return line;
      const enc = parseEncryptedValue(t);
      const plain = typeof enc === 'string' ? undefined : openValue(enc, ctx.key, pathAad(path));
      if (plain === undefined)
        throw sopsError(
          SopsErrorCode.MacMismatch,
          `comment at ${path.join('.') || '<root>'} fails authentication`,
        );
      return plain.toString('utf8');
    })
    .join('\n') as T;
}
