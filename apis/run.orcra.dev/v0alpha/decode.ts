/**
 * Decoding one manifest file: multi-document YAML → typed objects, or ManifestErrors positioned
 * at file:line:col and a field path. One bad document never hides the good ones beside it.
 */
import {
  type Alias,
  type Document,
  LineCounter,
  type Node as YamlNode,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
} from 'yaml';
import type { z } from 'zod';
import { API_VERSION, type KindName, SOURCE_ANNOTATION } from './meta.ts';
import { showValue } from './fields.ts';
import {
  ManifestError,
  ManifestErrorCode,
  type ManifestErrorInit,
  type Position,
  compareManifestErrors,
  formatPath,
  suggest,
} from './manifesterror.ts';
import { type AnyObject, KINDS, isKind, kindDirectories, kindForPath, manifestSchemas } from './scheme.ts';
import { DEFAULT_MANIFEST_LIMITS, utf8Length } from './limits.ts';

export interface DecodeOptions {
  /** Commit the file was read at; the source annotation becomes `<file>@<commit>`. Default: none. */
  commit?: string;
  /** A larger file is not parsed: one `too_large` error. Default: DEFAULT_MANIFEST_LIMITS.maxFileBytes. */
  maxBytes?: number;
}

/** Where a field of a decoded object sits in its file; undefined for objects it did not decode. */
export type Locator = (
  obj: AnyObject,
  path: readonly PropertyKey[],
) => (Position & { file: string }) | undefined;

/**
 * Where the fields of one document sit: its YAML node tree reduced to the positions of map keys
 * and list items, as plain data (it crosses a structured clone, e.g. from a worker thread). An
 * alias shares its anchor's children, as the decoded object shares its value.
 */
export interface FieldTree {
  /** Where the document's contents start. */
  at: Position;
  children: FieldChildren | undefined;
}

/** The children of a mapping (by key, the first of equal keys) or of a list (by index). */
export type FieldChildren = { keys: Map<string, Field> } | { items: (Field | undefined)[] };

/** One key or item: its line and column (0, 0 for a key without a position) and the value's children. */
export type Field = [line: number, col: number, children: FieldChildren | undefined];

/** The most aliases (`*name`) one document may hold: each is resolved by a scan of the document's anchors. */
export const MAX_ALIASES = 100;

/**
 * How deep mappings and lists may nest in one document (a manifest needs about 6). Deeper is
 * refused the same way on any thread, whether or not the parser ran out of stack first.
 */
export const MAX_DEPTH = 100;

export interface DecodeResult {
  /** The documents that decoded, in file order, annotated with `run.orcra.dev/source`. */
  objects: AnyObject[];
  /** Problems, sorted by position. Any error means some document in the file did not decode. */
  errors: ManifestError[];
  /** Things worth fixing that did not stop an object decoding (e.g. a kind in another kind's directory). */
  warnings: ManifestError[];
  /** Positions of fields of `objects`, for checks that run later (see checkObjects). */
  locate: Locator;
  /** The field positions of each of `objects`, in the same order (what `locate` reads). */
  fields: FieldTree[];
}

/** A DecodeResult as plain data: what crosses a structured clone (a worker thread's message). */
export interface DecodedData {
  objects: AnyObject[];
  errors: Required<ManifestErrorInit>[];
  warnings: Required<ManifestErrorInit>[];
  fields: FieldTree[];
}

/** The plain data of a decode (see fromDecodedData). */
export function toDecodedData(r: DecodeResult): DecodedData {
  return {
    objects: r.objects,
    errors: r.errors.map((e) => e.toJSON()),
    warnings: r.warnings.map((e) => e.toJSON()),
    fields: r.fields,
  };
}

/** The DecodeResult `toDecodedData` gave (after a structured clone): the same errors, and a locator. */
export function fromDecodedData(file: string, d: DecodedData): DecodeResult {
  return {
    objects: d.objects,
    errors: d.errors.map((e) => new ManifestError(e)),
    warnings: d.warnings.map((e) => new ManifestError(e)),
    fields: d.fields,
    locate: locatorOf(file, d.objects, d.fields),
  };
}

/** The locator of `objects` whose field positions are `fields` (same order). */
function locatorOf(file: string, objects: readonly AnyObject[], fields: readonly FieldTree[]): Locator {
  const trees = new Map<AnyObject, FieldTree>();
  objects.forEach((o, i) => {
    const t = fields[i];
    if (t !== undefined) trees.set(o, t);
  });
  return (obj, path) => {
    const tree = trees.get(obj);
    return tree ? { file, ...fieldAt(tree, path) } : undefined;
  };
}

/**
 * Decodes one manifest file. `file` is the path reported in errors (relative to the repo root).
 *
 * @example
 * const { objects, errors } = decodeManifestFile('deployments/web.yaml', text);
 * for (const e of errors) console.error(e.format());
 */
export function decodeManifestFile(file: string, text: string, options: DecodeOptions = {}): DecodeResult {
  const out: DecodeResult = { objects: [], errors: [], warnings: [], locate: () => undefined, fields: [] };
  const limit = options.maxBytes ?? DEFAULT_MANIFEST_LIMITS.maxFileBytes;
  const size = utf8Length(text);
  if (size > limit) {
    out.errors.push(tooLarge(file, size, limit));
    return out;
  }
  // Per-file isolation by construction: whatever goes wrong below (a bug in a schema, the YAML
  // library) becomes an error of this file, never an exception out of the decode.
  try {
    decodeInto(out, file, text, options);
  } catch (e) {
    out.objects = [];
    out.fields = [];
    out.errors.push(internalError(file, e, { line: 1, col: 1 }));
  }
  out.locate = locatorOf(file, out.objects, out.fields);
  out.errors.sort(compareManifestErrors);
  out.warnings.sort(compareManifestErrors);
  return out;
}

/** `file is 5242880 bytes, over the limit of 1048576 per manifest file`. */
export function tooLarge(
  file: string,
  size: number,
  limit: number,
  what = 'per manifest file',
): ManifestError {
  return new ManifestError({
    file,
    line: 1,
    col: 1,
    path: '',
    message: `file is ${size} bytes, over the limit of ${limit} ${what}; not parsed`,
    code: ManifestErrorCode.TooLarge,
  });
}

/** An unexpected exception as an error of the file: its type and message, never the file's content. */
function internalError(file: string, e: unknown, at: Position): ManifestError {
  const what = e instanceof Error ? `${e.name}: ${e.message}` : typeof e;
  return new ManifestError({
    file,
    ...at,
    path: '',
    message: `cannot decode this document (internal error, please report it): ${what.slice(0, 120)}`,
    code: ManifestErrorCode.Internal,
  });
}

function decodeInto(out: DecodeResult, file: string, text: string, options: DecodeOptions): void {
  const lineCounter = new LineCounter();
  // uniqueKeys: false because the library's own check is quadratic in a map's keys (a 5 MB map
  // took minutes); scanDocument() below does the same check in one pass.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  for (const doc of docs) {
    let problems: DocumentResult;
    try {
      problems = decodeDocument(doc, file, at);
    } catch (e) {
      problems = { errors: [internalError(file, e, at(doc.range[0]))], warnings: [] };
    }
    out.errors.push(...problems.errors);
    out.warnings.push(...problems.warnings);
    if (problems.object && problems.fields) {
      const obj = problems.object;
      obj.metadata.annotations = {
        ...obj.metadata.annotations,
        [SOURCE_ANNOTATION]: options.commit ? `${file}@${options.commit}` : file,
      };
      out.objects.push(obj);
      out.fields.push(problems.fields);
    }
  }
}

/** What one pass over a document finds (see scanDocument). */
interface DocumentScan {
  /** Offsets of keys that repeat an earlier key of the same mapping, sorted. */
  duplicates: number[];
  /** Offsets of the aliases (`*name`), sorted. */
  aliases: number[];
  /** The nodes that carry each anchor (`&name`). */
  anchors: Map<string, YamlNode[]>;
  /** How deep mappings and lists nest (the document's top collection is 1). */
  depth: number;
}

/**
 * Duplicate keys, aliases and anchors, in one pass over the document (an explicit stack: deep
 * nesting cannot overflow the call stack). Scalar keys compare by type and value, as the YAML
 * library's own `uniqueKeys` check does; other keys are not compared.
 */
function scanDocument(doc: Document): DocumentScan {
  const scan: DocumentScan = { duplicates: [], aliases: [], anchors: new Map(), depth: 0 };
  const anchored = (node: YamlNode): void => {
    if (!node.anchor) return;
    const nodes = scan.anchors.get(node.anchor);
    if (nodes === undefined) scan.anchors.set(node.anchor, [node]);
    else nodes.push(node);
  };
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (isAlias(node)) scan.aliases.push(node.range?.[0] ?? 0);
    else if (isScalar(node)) anchored(node);
    else if (isMap(node)) {
      anchored(node);
      scan.depth = Math.max(scan.depth, depth);
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          anchored(pair.key);
          const id = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(id)) scan.duplicates.push(pair.key.range?.[0] ?? 0);
          else seen.add(id);
        } else if (pair.key !== null) stack.push([pair.key, depth + 1]);
        stack.push([pair.value, depth + 1]);
      }
    } else if (isSeq(node)) {
      anchored(node);
      scan.depth = Math.max(scan.depth, depth);
      for (const item of node.items) stack.push([item, depth + 1]);
    }
  }
  scan.duplicates.sort((a, b) => a - b);
  scan.aliases.sort((a, b) => a - b);
  return scan;
}

/**
 * Offsets of keys that repeat an earlier key of the same mapping, sorted: the YAML library's
 * `uniqueKeys` check in one pass (its own is quadratic in a map's keys). For parsers of manifests
 * outside this decoder (runtime/sops), which parse with `uniqueKeys: false`.
 */
export function duplicateKeyOffsets(doc: Document): number[] {
  return scanDocument(doc).duplicates;
}

/**
 * The node an alias names: the last node before it that carries its anchor (as the YAML library
 * resolves it, without scanning the whole document for each alias).
 */
function resolveAlias(alias: Alias, anchors: DocumentScan['anchors']): unknown {
  const at = alias.range?.[0] ?? 0;
  let found: YamlNode | undefined;
  for (const node of anchors.get(alias.source) ?? []) {
    const start = node.range?.[0] ?? 0;
    if (start < at && (found === undefined || start >= (found.range?.[0] ?? 0))) found = node;
  }
  return found;
}

/**
 * The field positions of a document, in one pass (an explicit stack). Each mapping or list is
 * visited once: an alias to it shares its children.
 */
function fieldTree(
  doc: Document.Parsed,
  anchors: DocumentScan['anchors'],
  at: (offset: number) => Position,
): FieldTree {
  const seen = new Map<unknown, FieldChildren>();
  const pending: [YamlNode, FieldChildren][] = [];
  const childrenOf = (node: unknown): FieldChildren | undefined => {
    const target = isAlias(node) ? resolveAlias(node, anchors) : node;
    if (!isMap(target) && !isSeq(target)) return undefined;
    let children = seen.get(target);
    if (children === undefined) {
      children = isMap(target) ? { keys: new Map() } : { items: [] };
      seen.set(target, children);
      pending.push([target, children]);
    }
    return children;
  };
  const field = (offset: number | undefined, value: unknown): Field => {
    const pos = offset === undefined ? { line: 0, col: 0 } : at(offset);
    return [pos.line, pos.col, childrenOf(value)];
  };
  const root = { at: at(doc.contents?.range[0] ?? 0), children: childrenOf(doc.contents) };
  while (pending.length > 0) {
    const [node, children] = pending.pop()!;
    if ('keys' in children && isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (!children.keys.has(key)) children.keys.set(key, field(pair.key.range?.[0], pair.value));
      }
    } else if ('items' in children && isSeq(node)) {
      for (const item of node.items)
        children.items.push(
          (item as YamlNode | null)?.range ? field((item as YamlNode).range![0], item) : undefined,
        );
    }
  }
  return root;
}

/**
 * The position of the field at `path`: the key of a mapping entry, the start of a list item. A
 * missing field resolves to its nearest present parent, so "required field" points at the parent key.
 */
function fieldAt(tree: FieldTree, path: readonly PropertyKey[]): Position {
  let pos = tree.at;
  let children = tree.children;
  for (const seg of path) {
    let f: Field | undefined;
    if (children !== undefined && 'keys' in children) f = children.keys.get(String(seg));
    else if (children !== undefined && typeof seg === 'number') f = children.items[seg];
    if (f === undefined) break;
    if (f[0] !== 0) pos = { line: f[0], col: f[1] };
    children = f[2];
  }
  return pos;
}

interface DocumentResult {
  object?: AnyObject;
  /** The object's field positions (set with `object`). */
  fields?: FieldTree;
  errors: ManifestError[];
  warnings: ManifestError[];
}

function decodeDocument(
  doc: Document.Parsed,
  file: string,
  at: (offset: number) => Position,
): DocumentResult {
  const res: DocumentResult = { errors: [], warnings: [] };
  const yamlError = (message: string, offset: number) =>
    new ManifestError({ file, ...at(offset), path: '', message, code: ManifestErrorCode.YamlSyntax });

  // Too deep for the parser's stack: where it gave up depends on the thread's stack size (a
  // worker's is not the main thread's), so the error is the depth limit's, at the document.
  const tooDeep = `invalid YAML: nested more than ${MAX_DEPTH} levels deep`;
  if (doc.errors.some((e) => e.code === 'RESOURCE_EXHAUSTION')) {
    res.errors.push(yamlError(tooDeep, doc.range[0]));
    return res;
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) res.errors.push(yamlError(`invalid YAML: ${e.message}`, e.pos[0]));
    return res;
  }
  const scan = scanDocument(doc);
  if (scan.depth > MAX_DEPTH) {
    res.errors.push(yamlError(tooDeep, doc.range[0]));
    return res;
  }
  if (scan.duplicates.length > 0) {
    for (const offset of scan.duplicates)
      res.errors.push(yamlError('invalid YAML: Map keys must be unique', offset));
    return res;
  }
  if (scan.aliases.length > MAX_ALIASES) {
    const message = `invalid YAML: ${scan.aliases.length} aliases, over the limit of ${MAX_ALIASES} per document`;
    res.errors.push(yamlError(message, scan.aliases[MAX_ALIASES]!));
    return res;
  }
  for (const w of doc.warnings) {
    res.warnings.push(
      new ManifestError({
        file,
        ...at(w.pos[0]),
        path: '',
        message: `YAML: ${w.message}`,
        code: ManifestErrorCode.YamlSyntax,
        severity: 'warning',
      }),
    );
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return res; // an empty document, e.g. a trailing `---`

  const fields = fieldTree(doc, scan.anchors, at);
  const err: MakeError = (path, message, code) =>
    new ManifestError({ file, ...fieldAt(fields, path), path: formatPath(path), message, code });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    res.errors.push(
      err([], `invalid YAML: ${e instanceof Error ? e.message : String(e)}`, ManifestErrorCode.YamlSyntax),
    );
    return res;
  }
  const object = validateDocument(data, file, err, res);
  if (object !== undefined) {
    res.object = object;
    res.fields = fields;
  }
  return res;
}

/** The object `data` is, by its kind's schema; or undefined, with the errors in `res`. */
function validateDocument(
  data: unknown,
  file: string,
  err: MakeError,
  res: DocumentResult,
): AnyObject | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    res.errors.push(
      err(
        [],
        // Not showValue: a file that is one scalar (a key symlinked in, say) must not be echoed.
        `expected a mapping with apiVersion, kind, metadata and spec, got ${typeof data === 'string' ? 'a string' : showValue(data)}`,
        ManifestErrorCode.BadDocument,
      ),
    );
    return undefined;
  }
  const kind = (data as { kind?: unknown }).kind;
  if (!isKind(kind)) {
    res.errors.push(
      err(
        ['kind'],
        unknownKindMessage(kind),
        kind === undefined ? ManifestErrorCode.RequiredField : ManifestErrorCode.BadDocument,
      ),
    );
    return undefined;
  }

  const known = new Map<string, string[]>();
  const parsed = (manifestSchemas[kind] as z.ZodType).safeParse(data, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const shape = (iss.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
        known.set(formatPath(iss.path ?? []), Object.keys(shape ?? {}));
        return 'unknown field';
      }
      return genericMessage(iss);
    },
  });
  if (parsed.success) {
    const home = kindForPath(file);
    if (home !== undefined && home !== kind) res.warnings.push(wrongDirectory(kind, file, err));
    return parsed.data as AnyObject;
  }
  for (const issue of parsed.error.issues) res.errors.push(...issueErrors(issue, data, known, err));
  return undefined;
}

type MakeError = (path: readonly PropertyKey[], message: string, code: ManifestErrorCode) => ManifestError;

function issueErrors(
  issue: z.core.$ZodIssue,
  data: unknown,
  known: Map<string, string[]>,
  err: MakeError,
): ManifestError[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const fields = known.get(formatPath(path)) ?? [];
    return issue.keys.map((key) =>
      err([...path, key], unknownFieldMessage(path, key, fields), ManifestErrorCode.UnknownField),
    );
  }
  if (issue.code === 'invalid_key' || issue.code === 'invalid_element') {
    const inner = issue.issues[0];
    return [err(path, inner?.message ?? issue.message, ManifestErrorCode.InvalidValue)];
  }
  const missing = issue.code === 'invalid_type' && valueAt(data, path) === undefined;
  return [
    err(path, issue.message, missing ? ManifestErrorCode.RequiredField : ManifestErrorCode.InvalidValue),
  ];
}

function unknownFieldMessage(parent: readonly PropertyKey[], key: string, fields: readonly string[]): string {
  if (parent.length === 0 && key === 'status')
    return 'unknown field: status is kept by the node, never in Git';
  const near = suggest(key, fields);
  return near === undefined ? 'unknown field' : `unknown field, did you mean "${near}"?`;
}

function unknownKindMessage(kind: unknown): string {
  if (kind === undefined) return 'required field';
  const list = KINDS.join(', ');
  if (typeof kind !== 'string') return `expected one of ${list}, got ${showValue(kind)}`;
  const near = suggest(kind, KINDS);
  return near === undefined
    ? `unknown kind ${showValue(kind)} in ${API_VERSION}, expected one of ${list}`
    : `unknown kind ${showValue(kind)}, did you mean "${near}"?`;
}

function wrongDirectory(kind: KindName, file: string, err: MakeError): ManifestError {
  const e = err(
    ['kind'],
    `${kind} belongs in ${kindDirectories[kind]}/, not ${file.split('/')[0]}/`,
    ManifestErrorCode.WrongDirectory,
  );
  return new ManifestError({ ...e.toJSON(), severity: 'warning' });
}

/** Messages in our one style for issues whose schema did not bring its own. */
function genericMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined
        ? 'required field'
        : `expected ${iss.expected}, got ${showValue(iss.input)}`;
    case 'invalid_value':
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${showValue(iss.input)}`;
    default:
      return undefined;
  }
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}
