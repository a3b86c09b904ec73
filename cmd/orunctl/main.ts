// orunctl: kubectl-style access to a node's orun agent. Flags and commands live in program.ts.
import { errorMessage } from '../../apis/errors.ts';
import { run } from './program.ts';

const ac = new AbortController();
// Ctrl-C ends -w and -f cleanly; a second one exits at once.
process.once('SIGINT', () => {
  ac.abort();
  process.once('SIGINT', () => process.exit(130));
});
// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
void run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: ac.signal,
  now: () => new Date(),
}).then(
  (code) => {
    process.exitCode = code;
    process.removeAllListeners('SIGINT');
  },
  (err: unknown) => {
    process.stderr.write(`orunctl: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
