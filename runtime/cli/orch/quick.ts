/**
 * orch's quick path: `validate FILE...` and `parse FILE...` without flags, run without commander
 * and the rest of the CLI (cmd/orch loads cli.ts, a bundle of its own, only for everything else).
 * Anything else, or a file that cannot be read, returns undefined having printed nothing, and the
 * full program runs the command and reports as it always did.
 */
import { formatJSON } from '../../../apis/orchfile/index.ts';
import type { OrchIO } from './cli.ts';
import { UsageError, withGraph } from './graph.ts';

/** The exit code of a plain `validate`/`parse`, else undefined. */
export function quickOrch(argv: readonly string[], io: OrchIO): number | undefined {
  const [command, ...files] = argv;
  if (command !== 'validate' && command !== 'parse') return undefined;
  if (files.length === 0 || files.some((f) => f.startsWith('-'))) return undefined;
  try {
    return withGraph(files, [], io, (graph) =>
      command === 'validate' ? io.stderr('valid\n') : io.stdout(formatJSON(graph) + '\n'),
    );
  } catch (err) {
    if (err instanceof UsageError) return undefined;
    throw err;
  }
}
