/** From the Orchfile arguments to a graph, for every orch command that reads files (cli.ts, quick.ts). */
import { resolve } from 'node:path';
import {
  formatOrchfileError,
  parseOrchfiles,
  type OrchfileSource,
  type OrchGraph,
} from '../../../apis/orchfile/index.ts';
import type { OrchIO } from './cli.ts';

/** A usage problem: printed as `error: <message>`, exit code 2. */
export class UsageError extends Error {}

/** Reads and parses the files, prints any Orchfile errors (exit 1), else calls `onGraph` (exit 0). */
export function withGraph(
  files: readonly string[],
  args: readonly string[],
  io: OrchIO,
  onGraph: (g: OrchGraph) => void,
): number {
  const overrides = pairs(args, '--arg');
  const sources: OrchfileSource[] = files.map((path) => {
    try {
      return { path, text: io.readFile(resolve(io.cwd, path)) };
    } catch (err) {
      throw new UsageError(`cannot read '${path}': ${(err as Error).message}`);
    }
  });
  const result = parseOrchfiles(sources, { args: overrides, env: io.env });
  if (!result.ok) {
    io.stderr(result.errors.map((e) => `error: ${formatOrchfileError(e)}\n`).join(''));
    return 1;
  }
  onGraph(result.graph);
  return 0;
}

/** `name=value` flags to a record, with the reference tool's wording for bad ones. */
export function pairs(values: readonly string[], flag: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) throw new UsageError(`${flag} value must be name=value, got '${v}'`);
    if (eq === 0) throw new UsageError(`invalid ${flag}: '${v}'`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}
