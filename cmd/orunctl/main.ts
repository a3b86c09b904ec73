// orunctl: kubectl-style access to a node's orun agent. Flags and commands live in program.ts.
import { run } from './program.ts';

const ac = new AbortController();
// Ctrl-C ends -w and -f cleanly; a second one exits at once.
process.once('SIGINT', () => {
  ac.abort();
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: ac.signal,
  now: () => new Date(),
});
process.removeAllListeners('SIGINT');
