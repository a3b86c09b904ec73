import { closest } from '../../suggest.ts';
/**
 * ManifestError: one problem in a manifest repository, positioned at file:line:col and a field
 * path. It is a value returned by decoding and checks, never thrown: bad files are data.
 */

/** Stable codes to branch on (never branch on the message). */
export const ManifestErrorCode = {
  /** The YAML itself does not parse (bad indentation, duplicate keys, ...). */
  YamlSyntax: 'yaml_syntax',
  /** A document is not a mapping, or `kind`/`apiVersion` is missing or unknown. */
  BadDocument: 'bad_document',
  /** A field that the kind does not have. */
  UnknownField: 'unknown_field',
  /** A required field is missing. */
  RequiredField: 'required_field',
  /** A field has the wrong type or an invalid value. */
  InvalidValue: 'invalid_value',
  /** Two objects of one kind share a name. */
  DuplicateName: 'duplicate_name',
  /** A reference to an object that does not exist (a Service's deployment). */
  MissingReference: 'missing_reference',
  /** Two Deployments that can land on one node publish the same host port. */
  HostPortConflict: 'host_port_conflict',
  /** Two Services claim the same domain. */
  DomainConflict: 'domain_conflict',
  /** A warning: an object lives in another kind's directory. */
  WrongDirectory: 'wrong_directory',
  /** A file referenced by an object (an Orchfile) is missing. */
  MissingFile: 'missing_file',
  /** A ServiceGraph's Orchfiles do not parse or validate (the error's own file:line:col). */
  OrchfileInvalid: 'orchfile_invalid',
  /** A file could not be read. */
  ReadFailed: 'read_failed',
  /** A SOPS file or inline `ENC[...]` value is malformed, fails its MAC, or no key opens it. */
  Sops: 'sops',
  /** A `secretKeyRef` / `secretFiles` key that the root secrets.yaml does not have. */
  MissingSecret: 'missing_secret',
  /** A file, or the repository, is over its size limit; it was not parsed. */
  TooLarge: 'too_large',
  /** A hostPath the Node's allowedHostPaths policy refuses. */
  HostPathRefused: 'host_path_refused',
  /** Decoding failed in an unexpected way (a bug in orun); the file is treated as broken. */
  Internal: 'internal_error',
} as const;
export type ManifestErrorCode = (typeof ManifestErrorCode)[keyof typeof ManifestErrorCode];

export type Severity = 'error' | 'warning';

/** A position in a file, both 1-based. */
export interface Position {
  line: number;
  col: number;
}

export interface ManifestErrorInit {
  /** Path relative to the repository root, e.g. `deployments/web.yaml`. */
  file: string;
  line: number;
  col: number;
  /** Field path, e.g. `spec.ports[0].containerPort`; empty for a whole document or file. */
  path: string;
  message: string;
  code: ManifestErrorCode;
  /** Default: error. */
  severity?: Severity;
}

/**
 * One positioned manifest problem.
 *
 * @example
 * new ManifestError({ file: 'deployments/web.yaml', line: 7, col: 5, path: 'spec.ports[0].containerPort',
 *   message: 'expected integer 1-65535, got "http"', code: 'invalid_value' }).format()
 * // 'deployments/web.yaml:7:5: spec.ports[0].containerPort: expected integer 1-65535, got "http"'
 */
export class ManifestError {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  readonly message: string;
  readonly code: ManifestErrorCode;
  readonly severity: Severity;

  constructor(init: ManifestErrorInit) {
    this.file = init.file;
    this.line = init.line;
    this.col = init.col;
    this.path = init.path;
    this.message = init.message;
    this.code = init.code;
    this.severity = init.severity ?? 'error';
  }

  /** `file:line:col: [warning: ]path: message` (path left out when empty). */
  format(): string {
    const where = `${this.file}:${this.line}:${this.col}: `;
    const level = this.severity === 'warning' ? 'warning: ' : '';
    return `${where}${level}${this.path === '' ? '' : `${this.path}: `}${this.message}`;
  }

  toString(): string {
    return this.format();
  }

  /** A plain object for JSON (status.sourceErrors, the local API). */
  toJSON(): Required<ManifestErrorInit> {
    const { file, line, col, path, message, code, severity } = this;
    return { file, line, col, path, message, code, severity };
  }
}

/** Orders errors by file, line, column (stable for equal positions). */
export function compareManifestErrors(a: ManifestError, b: ManifestError): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col;
}

/** The field path as written in messages: `spec.ports[0].containerPort`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][\w$-]*$/.test(s) ? (out === '' ? s : `.${s}`) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

/** The known name closest to `word` (edit distance at most a third of its length, min 2), if any. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  return closest(word, known, { ignoreCase: true, maxDistance: Math.max(2, Math.floor(word.length / 3)) });
}
