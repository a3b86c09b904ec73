import type { SourcePos } from './types.ts';

/**
 * Stable error codes; branch on these, never on the message.
 * - `syntax`: a line does not have the form its directive needs (missing `=`, missing value, ...)
 * - `unknown-directive`, `outside-service`, `duplicate-service`, `duplicate-directive`, `invalid-name`
 * - `clear-target`: CLEAR on a scalar or unknown directive
 * - `version`: ORCH_VERSION misplaced, repeated or unsupported
 * - `invalid-value`: a value does not have the grammar's format (duration, memory, port, ...)
 * - `c1`, `c2`, `c3`: the spec's constraints; `cycle` is C4
 * - `unknown-service`: REQUIRES names a service that does not exist
 */
export type OrchfileErrorCode =
  | 'syntax'
  | 'unknown-directive'
  | 'outside-service'
  | 'duplicate-service'
  | 'duplicate-directive'
  | 'invalid-name'
  | 'clear-target'
  | 'version'
  | 'invalid-value'
  | 'c1'
  | 'c2'
  | 'c3'
  | 'cycle'
  | 'unknown-service';

/** One problem in an Orchfile, with the place it was written. */
export interface OrchfileError extends SourcePos {
  readonly code: OrchfileErrorCode;
  /** The reference tool's wording where it has one (e.g. `cannot specify both FROM and RUN (C1)`). */
  readonly message: string;
  /** The service the error belongs to, when there is one. */
  readonly service?: string;
  /** A suggestion such as `did you mean 'FROM'?`. */
  readonly hint?: string;
}

/** `file:line:col: service 'x': message (hint)`, the form the CLI prints after `error: `. */
export function formatOrchfileError(err: OrchfileError): string {
  const where = `${err.file}:${err.line}:${err.col}`;
  const service = err.service === undefined ? '' : `service '${err.service}': `;
  const hint = err.hint === undefined ? '' : ` (${err.hint})`;
  return `${where}: ${service}${err.message}${hint}`;
}

/** Errors in reading order: by file (in the order given), then line, then column. */
export function sortErrors(errors: OrchfileError[], files: readonly string[]): OrchfileError[] {
  const rank = new Map(files.map((f, i) => [f, i]));
  return errors
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        (rank.get(a.e.file) ?? 0) - (rank.get(b.e.file) ?? 0) ||
        a.e.line - b.e.line ||
        a.e.col - b.e.col ||
        a.i - b.i,
    )
    .map(({ e }) => e);
}

export function errorAt(
  pos: SourcePos,
  code: OrchfileErrorCode,
  message: string,
  extra: { service?: string; hint?: string } = {},
): OrchfileError {
  return { file: pos.file, line: pos.line, col: pos.col, code, message, ...extra };
}
