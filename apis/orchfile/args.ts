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

/**
 * Replaces each `${name}` whose name is an ARG; others (and unclosed `${`) stay as written. A
 * reference runs from `${` to the first `}` after it (the RegExp `\$\{([^}]*)\}`, scanned by hand:
 * this runs on every value of every service).
 */
export function expand(text: string, args: ReadonlyMap<string, string>): string {
  let open = text.indexOf('${');
  if (open < 0) return text;
  let out = '';
  let from = 0;
  while (open >= 0) {
    const close = text.indexOf('}', open + 2);
    if (close < 0) break;
    out += text.slice(from, open) + (args.get(text.slice(open + 2, close)) ?? text.slice(open, close + 1));
    from = close + 1;
    open = text.indexOf('${', from);
  }
  return out + text.slice(from);
}
