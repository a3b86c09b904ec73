/**
 * ARG resolution and `${name}` expansion. Precedence, highest first: `--arg`, `ORCH_ARG_<name>`,
 * the last file's default. Overrides only apply to ARGs some file declares. Names that are not
 * ARGs (such as the built-ins `${ORCH_PROJECT}`) are kept verbatim for runtime resolution.
 */
import type { RawFile } from './raw.ts';

export interface ArgOverrides {
  /** `--arg name=value` pairs. */
  readonly args?: Readonly<Record<string, string>>;
  /** The process environment; `ORCH_ARG_<name>` entries override file defaults. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function resolveArgs(files: readonly RawFile[], overrides: ArgOverrides): Map<string, string> {
  const args = new Map<string, string>();
  for (const f of files) for (const a of f.args) args.set(a.name, a.value);
  for (const name of args.keys()) {
    const cli = own(overrides.args, name);
    const env = own(overrides.env, `ORCH_ARG_${name}`);
    if (cli !== undefined) args.set(name, cli);
    else if (env !== undefined) args.set(name, env);
  }
  return args;
}

function own<T>(rec: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return rec !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined;
}

const VAR_REF = /\$\{([^}]*)\}/g;

/** Replaces each `${name}` whose name is an ARG; others (and unclosed `${`) stay as written. */
export function expand(text: string, args: ReadonlyMap<string, string>): string {
  if (!text.includes('${')) return text;
  return text.replace(VAR_REF, (ref, name: string) => args.get(name) ?? ref);
}
