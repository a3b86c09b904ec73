/**
 * orunctl's quick path for the commonest read, `get KIND [NAME] [-o wide|json|name] [-l SELECTOR]`
 * (with `--socket PATH` before it): parsed by hand, without commander and the rest of the CLI, so
 * that cmd/orunctl loads program.ts (a bundle of its own) only for everything else. It handles the
 * plain success only: for any other command, flag or form, an unknown kind, or an error from the
 * agent, it returns undefined before printing anything, and the full program runs the command
 * and reports as it always did.
 */
import { fetchObjects, outputFormat, printObjects } from './commands/get.ts';
import { clientFor, type Io } from './context.ts';
import { resolveKinds } from './kinds.ts';
import { paletteFor } from './printers/color.ts';

export interface QuickGet {
  socket?: string;
  kind: string;
  name?: string;
  output?: string;
  selector?: string;
}

const VALUE_FLAGS: Readonly<Record<string, 'output' | 'selector'>> = {
  '-o': 'output',
  '--output': 'output',
  '-l': 'selector',
  '--selector': 'selector',
};

/** `argv` as a plain `get` this path handles, else undefined (the full program parses it). */
export function parseQuickGet(argv: readonly string[]): QuickGet | undefined {
  let at = 0;
  let socket: string | undefined;
  if (argv[0] === '--socket') [socket, at] = [argv[1], 2];
  else if (argv[0]?.startsWith('--socket=') === true) [socket, at] = [argv[0].slice('--socket='.length), 1];
  if ((argv[0] === '--socket' && socket === undefined) || argv[at] !== 'get') return undefined;
  const positional: string[] = [];
  const values: { output?: string; selector?: string } = {};
  for (let i = at + 1; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg.startsWith('--') ? arg : arg.slice(0, 2);
    const key = VALUE_FLAGS[flag];
    if (key === undefined || values[key] !== undefined) return undefined;
    const value =
      eq > 0 ? arg.slice(eq + 1) : arg.length > 2 && !arg.startsWith('--') ? arg.slice(2) : argv[++i];
    if (value === undefined || value.startsWith('-')) return undefined;
    values[key] = value;
  }
  const [kind, name, ...extra] = positional;
  if (kind === undefined || extra.length > 0) return undefined;
  return {
    kind,
    ...(name === undefined ? {} : { name }),
    ...(socket === undefined ? {} : { socket }),
    ...values,
  };
}

/** Runs `argv` if it is a plain `get` (exit code 0), else undefined having printed nothing. */
export async function quickGet(argv: readonly string[], io: Io): Promise<number | undefined> {
  const args = parseQuickGet(argv);
  // Any error while fetching: nothing is printed yet, and the program reports it.
  const fetched = args === undefined ? undefined : await fetchPlain(args, io).catch(() => undefined);
  if (args === undefined || fetched === undefined) return undefined;
  const { ctx, format, kinds, groups } = fetched;
  printObjects(ctx, groups, format, args.name !== undefined, kinds.length > 1, undefined);
  return 0;
}

/** What `get` would print, fetched; undefined for what only the program does (-o yaml, all NAME). */
async function fetchPlain(args: QuickGet, io: Io) {
  const format = outputFormat(args.output);
  const kinds = resolveKinds(args.kind);
  if (format === 'yaml' || (kinds.length > 1 && args.name !== undefined)) return undefined;
  const ctx = { ...io, client: clientFor(args.socket, io.env), palette: paletteFor(io.stdout, io.env) };
  return { ctx, format, kinds, groups: await fetchObjects(ctx, kinds, args.name, args.selector) };
}
