/**
 * Orchfile toolchain: parse one or more Orchfiles (a base plus overlays), resolve ARGs, merge,
 * check C1–C4 and every value's format, and produce the service graph, its JSON form, or
 * platform files (systemd units, launchd plists).
 *
 * The pipeline has three stages; each reports all of its errors at once and the next stage runs
 * only when the previous one found none:
 *   1. syntax, per file (parse.ts): directive names, line shapes, service names, CLEAR, ORCH_VERSION;
 *   2. per merged service (resolve.ts): C1, C2, C3 and value formats, after `${name}` expansion;
 *   3. graph (graph.ts): REQUIRES targets exist, C4 (no cycles).
 * Nothing here reads the filesystem or throws on bad input.
 *
 * @example
 * const r = parseOrchfiles([{ path: 'Orchfile', text }], { args: { port: '8080' }, env: process.env });
 * if (r.ok) console.log(formatJSON(r.graph));
 * else for (const e of r.errors) console.error(`error: ${formatOrchfileError(e)}`);
 */
import { resolveArgs } from './args.ts';
import { sortErrors, type OrchfileError } from './errors.ts';
import { checkGraph } from './graph.ts';
import { mergeFiles } from './merge.ts';
import { parseFile } from './parse.ts';
import { resolveService } from './resolve.ts';
import { ORCHFILE_SPEC_VERSION, type OrchGraph, type OrchService } from './types.ts';

export type { ArgOverrides } from './args.ts';
export { formatOrchfileError, type OrchfileError, type OrchfileErrorCode } from './errors.ts';
export { formatJSON, toJSON, type OrchfileJSON } from './json.ts';
export * from './types.ts';
export { durationSeconds, healthcheckKind, memoryBytes } from './values.ts';

/** One Orchfile's path (used in error positions, as given) and text. */
export interface OrchfileSource {
  readonly path: string;
  readonly text: string;
}

export interface ParseOptions {
  /** `--arg name=value` overrides; the highest precedence. Default none. */
  readonly args?: Readonly<Record<string, string>>;
  /** Environment to read `ORCH_ARG_<name>` overrides from. Default none (pass `process.env` to use it). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type ParseResult = { ok: true; graph: OrchGraph } | { ok: false; errors: OrchfileError[] };

/**
 * Parses `files` (merged left to right: the first is the base, the rest are overlays) into a
 * validated service graph, or all errors of the first stage that found any, in reading order.
 */
export function parseOrchfiles(files: readonly OrchfileSource[], opts: ParseOptions = {}): ParseResult {
  const paths = files.map((f) => f.path);
  const parsed = files.map((f) => parseFile(f.path, f.text));
  const syntaxErrors = parsed.flatMap((p) => p.errors);
  if (syntaxErrors.length > 0) return { ok: false, errors: sortErrors(syntaxErrors, paths) };

  const raws = parsed.map((p) => p.file);
  const args = resolveArgs(raws, opts);
  const merged = mergeFiles(raws, args);

  const services: OrchService[] = [];
  const serviceErrors: OrchfileError[] = [];
  for (const raw of merged) {
    const r = resolveService(raw);
    if (r.service !== undefined) services.push(r.service);
    serviceErrors.push(...r.errors);
  }
  if (serviceErrors.length > 0) return { ok: false, errors: sortErrors(serviceErrors, paths) };

  const graphErrors = checkGraph(merged);
  if (graphErrors.length > 0) return { ok: false, errors: sortErrors(graphErrors, paths) };

  const argRecord = Object.create(null) as Record<string, string>;
  for (const [k, v] of args) argRecord[k] = v;
  return { ok: true, graph: { version: ORCHFILE_SPEC_VERSION, args: argRecord, services } };
}
