/**
 * Decoding one manifest file: multi-document YAML → typed objects, or ManifestErrors positioned
 * at file:line:col and a field path. One bad document never hides the good ones beside it.
 */
import {
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

export interface DecodeResult {
  /** The documents that decoded, in file order, annotated with `run.orcra.dev/source`. */
  objects: AnyObject[];
  /** Problems, sorted by position. Any error means some document in the file did not decode. */
  errors: ManifestError[];
  /** Things worth fixing that did not stop an object decoding (e.g. a kind in another kind's directory). */
  warnings: ManifestError[];
  /** Positions of fields of `objects`, for checks that run later (see checkObjects). */
  locate: Locator;
}

/**
 * Decodes one manifest file. `file` is the path reported in errors (relative to the repo root).
 *
 * @example
 * const { objects, errors } = decodeManifestFile('deployments/web.yaml', text);
 * for (const e of errors) console.error(e.format());
 */
export function decodeManifestFile(file: string, text: string, options: DecodeOptions = {}): DecodeResult {
  const out: DecodeResult = { objects: [], errors: [], warnings: [], locate: () => undefined };
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
    out.errors.push(internalError(file, e, { line: 1, col: 1 }));
  }
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
  // took minutes); duplicateKeys() below does the same check in one pass.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const sources = new Map<AnyObject, Document.Parsed>();
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
    if (problems.object) {
      const obj = problems.object;
      obj.metadata.annotations = {
        ...obj.metadata.annotations,
        [SOURCE_ANNOTATION]: options.commit ? `${file}@${options.commit}` : file,
      };
      out.objects.push(obj);
      sources.set(obj, doc);
    }
  }
  out.locate = (obj, path) => {
    const doc = sources.get(obj);
    return doc ? { file, ...at(offsetOf(doc, path)) } : undefined;
  };
}

/**
 * Offsets of keys that repeat an earlier key of the same mapping, in one pass over the document
 * (an explicit stack: deep nesting cannot overflow the call stack). Scalar keys compare by type
 * and value, as the YAML library's own `uniqueKeys` check does; other keys are not compared.
 */
function duplicateKeys(doc: Document.Parsed): number[] {
  const out: number[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const id = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(id)) out.push(pair.key.range?.[0] ?? 0);
          else seen.add(id);
        } else if (pair.key !== null) stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return out.sort((a, b) => a - b);
}

interface DocumentResult {
  object?: AnyObject;
  errors: ManifestError[];
  warnings: ManifestError[];
}

function decodeDocument(
  doc: Document.Parsed,
  file: string,
  at: (offset: number) => Position,
): DocumentResult {
  const res: DocumentResult = { errors: [], warnings: [] };
  const err = (
    path: readonly PropertyKey[],
    message: string,
    code: ManifestErrorCode,
    offset = offsetOf(doc, path),
  ) => new ManifestError({ file, ...at(offset), path: formatPath(path), message, code });

  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      res.errors.push(err([], `invalid YAML: ${e.message}`, ManifestErrorCode.YamlSyntax, e.pos[0]));
    return res;
  }
  const dups = duplicateKeys(doc);
  if (dups.length > 0) {
    for (const offset of dups)
      res.errors.push(err([], 'invalid YAML: Map keys must be unique', ManifestErrorCode.YamlSyntax, offset));
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

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    res.errors.push(
      err([], `invalid YAML: ${e instanceof Error ? e.message : String(e)}`, ManifestErrorCode.YamlSyntax),
    );
    return res;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    res.errors.push(
      err(
        [],
        // Not showValue: a file that is one scalar (a key symlinked in, say) must not be echoed.
        `expected a mapping with apiVersion, kind, metadata and spec, got ${typeof data === 'string' ? 'a string' : showValue(data)}`,
        ManifestErrorCode.BadDocument,
      ),
    );
    return res;
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
    return res;
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
    res.object = parsed.data as AnyObject;
    const home = kindForPath(file);
    if (home !== undefined && home !== kind) res.warnings.push(wrongDirectory(kind, file, err));
    return res;
  }
  for (const issue of parsed.error.issues) res.errors.push(...issueErrors(issue, data, known, err));
  return res;
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

/**
 * The offset of the field at `path`: the key of a mapping entry, the start of a list item. A
 * missing field resolves to its nearest present parent, so "required field" points at the parent key.
 */
function offsetOf(doc: Document.Parsed, path: readonly PropertyKey[]): number {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range[0] ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as YamlNode).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item?.range) break;
      offset = item.range[0];
      node = item;
    } else break;
  }
  return offset;
}
