// orunctl: kubectl-style access to a node's orun agent. Flags and commands live in program.ts.
import { errorMessage } from '../../apis/errors.ts';
import { installSignalHandlers } from '../../runtime/manager/signals.ts';
import { run } from '../../runtime/cli/orunctl/program.ts';

// Ctrl-C ends -w and -f cleanly; a second one exits at once.
const { signal, dispose } = installSignalHandlers(process, undefined, { signals: ['SIGINT'], exitCode: 130 });
// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
void run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal,
  now: () => new Date(),
}).then(
  (code) => {
    process.exitCode = code;
    dispose();
  },
  (err: unknown) => {
    process.stderr.write(`orunctl: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
