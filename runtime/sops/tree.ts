/**
 * An ordered view of a document, built from the YAML AST (so key order is the file's, as sops
 * reads it) or from an already-parsed JS value. Comments are dropped: sops never feeds them to
 * the MAC and the plain data does not hold them.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { SopsErrorCode, formatPath, sopsError } from './errors.ts';

export type ScalarValue = string | number | bigint | boolean | Uint8Array | null;

export type TreeNode =
  | { readonly kind: 'map'; readonly entries: readonly (readonly [string, TreeNode])[] }
  | { readonly kind: 'seq'; readonly items: readonly TreeNode[] }
  | { readonly kind: 'scalar'; readonly value: ScalarValue };

type ValuePath = (string | number)[];

function malformed(path: ValuePath, why: string): Error {
  const p = formatPath(path);
  return sopsError(SopsErrorCode.Malformed, `${p}: ${why}`, { context: { path: p } });
}

/** Converts one YAML document's top-level mapping, without its `sops` key. */
export function treeFromYaml(doc: Document): TreeNode {
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { kind: 'map', entries: [] };
  const node = fromYamlNode(doc, root, [], 0);
  if (node.kind !== 'map') throw malformed([], 'a sops YAML document must be a mapping');
  return { kind: 'map', entries: node.entries.filter(([k]) => k !== 'sops') };
}

function fromYamlNode(doc: Document, node: unknown, path: ValuePath, depth: number): TreeNode {
  if (depth > 256) throw malformed(path, 'nested too deeply (alias loop?)');
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target === undefined) throw malformed(path, 'unresolved alias');
    return fromYamlNode(doc, target, path, depth + 1);
  }
  if (isMap(node)) {
    const entries: [string, TreeNode][] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) throw malformed(path, 'unexpected map item');
      const key = keyString(doc, pair.key, path);
      entries.push([key, fromYamlNode(doc, pair.value, [...path, key], depth + 1)]);
    }
    return { kind: 'map', entries };
  }
  if (isSeq(node)) {
    return {
      kind: 'seq',
      items: node.items.map((item, i) => fromYamlNode(doc, item, [...path, i], depth + 1)),
    };
  }
  if (isScalar(node)) return { kind: 'scalar', value: scalarValue(node.value, path) };
  if (node === null || node === undefined) return { kind: 'scalar', value: null };
  throw malformed(path, 'unsupported YAML node');
}

function keyString(doc: Document, key: unknown, path: ValuePath): string {
  const k = isAlias(key) ? key.resolve(doc) : (key as YamlNode | null);
  if (k === null || k === undefined) return 'null';
  if (isScalar(k)) {
    const v = k.value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === null)
      return String(v);
  }
  throw malformed(path, 'map keys must be scalars');
}

function scalarValue(v: unknown, path: ValuePath): ScalarValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
    return v;
  if (v instanceof Uint8Array) return v;
  throw malformed(path, `unsupported scalar (${Object.prototype.toString.call(v)})`);
}

/** Converts a parsed JS value (object key order is JS's: integer-like keys come first). */
export function treeFromJs(value: unknown, path: ValuePath = [], depth = 0): TreeNode {
  if (depth > 256) throw malformed(path, 'nested too deeply (cycle?)');
  if (Array.isArray(value)) {
    return { kind: 'seq', items: value.map((item: unknown, i) => treeFromJs(item, [...path, i], depth + 1)) };
  }
  if (value instanceof Uint8Array) return { kind: 'scalar', value };
  if (typeof value === 'object' && value !== null) {
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
      throw malformed(path, 'only plain objects, arrays and scalars can be decrypted');
    }
    const entries = Object.entries(value).map(([k, v]): [string, TreeNode] => [
      k,
      treeFromJs(v, [...path, k], depth + 1),
    ]);
    return { kind: 'map', entries };
  }
  return { kind: 'scalar', value: scalarValue(value, path) };
}

/** A top-level document without its `sops` key. */
export function stripSopsKey(tree: TreeNode): TreeNode {
  if (tree.kind !== 'map') throw malformed([], 'a sops document must be a mapping');
  return { kind: 'map', entries: tree.entries.filter(([k]) => k !== 'sops') };
}
