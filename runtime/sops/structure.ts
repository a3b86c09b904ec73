/**
 * Checking a sops YAML file without its key (what `orun validate` does in CI, where there is no
 * key): the metadata block is complete and well-formed, every leaf the file's rule encrypts is an
 * `ENC[...]` value that parses, and none is plaintext. It cannot check the MAC: that needs the
 * data key. Also returns, for decoding the rest, the text with the `sops:` block blanked and each
 * encrypted leaf replaced by a placeholder of its type, plus the paths of those leaves.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type YAMLMap } from 'yaml';
import { formatPath } from '../../apis/run.orcra.dev/v0alpha/manifesterror.ts';
import { isEncryptedValue, parseEncryptedValue } from './cipher.ts';
import { encryptionRule, parseSopsMetadata } from './metadata.ts';

/** One structural problem, positioned in the file (1-based). */
export interface SopsProblem {
  line: number;
  col: number;
  /** `spec.env.DB`, or `sops.mac` for the metadata. */
  path: string;
  /** A runtime/sops error code (`SopsMalformed`, `SopsMacMismatch`, `SopsUnsupported`). */
  code: string;
  message: string;
}

export interface SopsStructure {
  problems: SopsProblem[];
  /** The text to decode: `sops:` blanked, encrypted leaves replaced by typed placeholders; same lines. */
  masked: string;
  /** Paths (`spec.ports[0].port`) of the encrypted leaves, per document index. */
  encryptedPaths: string[][];
}

const PLACEHOLDER: Readonly<Record<string, string>> = {
  int: '1',
  int64: '1',
  float: '1.0',
  bool: 'true',
};

/**
 * Checks a sops file's structure without decrypting it. Never throws on bad input: every problem
 * is returned with its line.
 */
export function checkSopsStructure(text: string): SopsStructure {
  const lines = new LineCounter();
  // uniqueKeys: false: the library's own check is quadratic in a map's keys; the masked text is
  // decoded after (apis decodeManifestFile), which refuses duplicate keys in one pass.
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  const at: At = (offset) => (offset === undefined ? { line: 1, col: 1 } : lines.linePos(offset));
  const list = Array.isArray(docs) ? docs : [];
  const { problems, rule } = checkMetadata(list[0], at);
  const edits: Edit[] = [];
  const encryptedPaths = list.map((doc, i) => {
    const root = doc.contents;
    if (!isMap(root)) return [];
    edits.push(...blankSopsBlock(root, text));
    if (i > 0 && doc.get('sops') === undefined) {
      problems.push({
        line: 1,
        col: 1,
        path: 'sops',
        code: 'SopsMalformed',
        message: `document ${i + 1} has no sops block (sops writes one in every document)`,
      });
    }
    return rule === undefined ? [] : checkLeaves(root, rule, at, problems, edits);
  });
  let masked = text;
  for (const e of edits.sort((a, b) => b.from - a.from))
    masked = masked.slice(0, e.from) + e.text + masked.slice(e.to);
  return { problems, masked, encryptedPaths };
}

/** A position in the file from an offset (1:1 without one). */
type At = (offset: number | undefined) => { line: number; col: number };

/** Replace text[from, to) with text. */
interface Edit {
  from: number;
  to: number;
  text: string;
}

/**
 * The first document's `sops:` metadata: its problems, and the rule saying which leaves are
 * encrypted (undefined when the metadata cannot be read).
 */
function checkMetadata(
  first: Document.Parsed | undefined,
  at: At,
): { problems: SopsProblem[]; rule?: (path: readonly string[]) => boolean } {
  const metaAt = at((first?.get('sops', true) as { range?: number[] } | undefined)?.range?.[0]);
  try {
    const meta = parseSopsMetadata(first === undefined ? undefined : yamlToJs(first.get('sops')));
    const rule = encryptionRule(meta.rule);
    const problems: SopsProblem[] = [];
    if (meta.age.length === 0) {
      problems.push({
        ...metaAt,
        path: 'sops.age',
        code: 'SopsUnsupported',
        message: 'no age recipient (sops.age is empty)',
      });
    }
    if (meta.lastModified === '') {
      problems.push({
        ...metaAt,
        path: 'sops.lastmodified',
        code: 'SopsMalformed',
        message: 'sops.lastmodified is missing',
      });
    }
    const mac = isEncryptedValue(meta.mac) ? parseEncryptedValue(meta.mac) : 'missing or not encrypted';
    if (typeof mac === 'string') {
      problems.push({ ...metaAt, path: 'sops.mac', code: 'SopsMacMismatch', message: `sops.mac: ${mac}` });
    }
    return { problems, rule };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'SopsMalformed';
    return {
      problems: [{ ...metaAt, path: 'sops', code, message: (err as Error).message.replace(/^sops: /, '') }],
    };
  }
}

/** Blanks a document's `sops:` block (keeping its newlines, so every line keeps its number). */
function blankSopsBlock(root: YAMLMap, text: string): Edit[] {
  const edits: Edit[] = [];
  for (const pair of root.items) {
    if (isScalar(pair.key) && pair.key.value === 'sops' && pair.key.range) {
      const end = (pair.value as { range?: number[] } | null)?.range?.[2] ?? pair.key.range[2];
      edits.push({
        from: pair.key.range[0],
        to: end,
        text: text.slice(pair.key.range[0], end).replace(/[^\n]/g, ' '),
      });
    }
  }
  return edits;
}

/**
 * Checks every leaf the rule encrypts: an `ENC[...]` value that parses, never plaintext. Adds the
 * problems, and an edit replacing each encrypted leaf by a placeholder of its type; returns the
 * paths of the encrypted leaves.
 */
function checkLeaves(
  root: YAMLMap,
  encrypted: (path: readonly string[]) => boolean,
  at: At,
  problems: SopsProblem[],
  edits: Edit[],
): string[] {
  const paths: string[] = [];
  walk(root, [], [], (node, mapPath, valuePath) => {
    if (mapPath[0] === 'sops' || !isScalar(node)) return;
    const v = node.value;
    if (v === null || v === '' || !encrypted(mapPath)) return;
    const where = formatPath(valuePath);
    const pos = at(node.range?.[0]);
    if (!isEncryptedValue(v)) {
      problems.push({
        ...pos,
        path: where,
        code: 'SopsMacMismatch',
        message: 'plaintext where an encrypted value belongs',
      });
      return;
    }
    const enc = parseEncryptedValue(v);
    if (typeof enc === 'string') {
      problems.push({ ...pos, path: where, code: 'SopsMalformed', message: `encrypted value ${enc}` });
      return;
    }
    paths.push(where);
    const placeholder = PLACEHOLDER[enc.type];
    if (placeholder !== undefined && node.range)
      edits.push({ from: node.range[0], to: node.range[1], text: placeholder });
  });
  return paths;
}

function walk(
  node: unknown,
  mapPath: string[],
  valuePath: (string | number)[],
  visit: (node: unknown, mapPath: string[], valuePath: (string | number)[]) => void,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      walk(pair.value, [...mapPath, key], [...valuePath, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item, mapPath, [...valuePath, i], visit));
  } else visit(node, mapPath, valuePath);
}

function yamlToJs(v: unknown): unknown {
  return typeof v === 'object' && v !== null && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v;
}
