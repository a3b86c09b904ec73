// orunctl: kubectl-style access to a node's orun agent. Flags and commands live in program.ts;
// a plain `get` takes the quick path (quick.ts) and never loads it.
import { isatty } from 'node:tty';
import { errorMessage } from '../../apis/errors.ts';
import { fdWriter } from '../../runtime/cli/fdwriter.ts';
import { quickGet } from '../../runtime/cli/orunctl/quick.ts';
import { installSignalHandlers } from '../../runtime/manager/signals.ts';

/**
 * A reader that went away (`orunctl logs web | head`) ends orunctl quietly, as SIGPIPE ends
 * other CLIs; without this the stream's EPIPE was an unhandled 'error' with a stack trace.
 */
function quietOnEpipe(s: NodeJS.WriteStream): NodeJS.WriteStream {
  if (!s.listeners('error').includes(onStdoutError)) s.on('error', onStdoutError);
  return s;
}

function onStdoutError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
}

async function main(argv: readonly string[]): Promise<number> {
  const quick = await quickGet(argv, {
    // Straight to the fds: no stdio stream to build for one table.
    stdout: { write: fdWriter(1, () => quietOnEpipe(process.stdout)), isTTY: isatty(1) },
    stderr: { write: fdWriter(2, () => process.stderr) },
    env: process.env,
    signal: new AbortController().signal,
    now: () => new Date(),
  });
  if (quick !== undefined) return quick;
  // hack/build.ts bundles program.ts on its own (dist/orunctl-full.cjs).
  const { run } = await import('../../runtime/cli/orunctl/program.ts');
  // Ctrl-C ends -w and -f cleanly; a second one exits at once.
  const { signal, dispose } = installSignalHandlers(process, undefined, {
    signals: ['SIGINT'],
    exitCode: 130,
  });
  return run(argv, {
    stdout: quietOnEpipe(process.stdout),
    stderr: process.stderr,
    env: process.env,
    signal,
    now: () => new Date(),
  }).finally(dispose);
}

// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`orunctl: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
