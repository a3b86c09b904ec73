// orch: parse, validate and render Orchfiles (cli.ts); up, down, status, logs and restart run the graph.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../../apis/errors.ts';
import { onStopSignals } from '../../runtime/manager/signals.ts';
import { runOrch, type OrchIO } from '../../runtime/cli/orch/cli.ts';
import type { RunIO } from '../../runtime/cli/orch/up.ts';

const io: OrchIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  readFile: (path) => readFileSync(path, 'utf8'),
  writeFile: (path, content) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  },
};

// Loaded only for the command that runs them: parse/validate/render never load Docker's client.
type Runner = (argv: readonly string[], io: RunIO) => Promise<number>;
const runners: Record<string, (() => Promise<Runner>) | undefined> = {
  up: () => import('../../runtime/cli/orch/up.ts').then((m) => m.runUp),
  down: () => import('../../runtime/cli/orch/down.ts').then((m) => m.runDown),
  status: () => import('../../runtime/cli/orch/status.ts').then((m) => m.runStatus),
  ps: () => import('../../runtime/cli/orch/status.ts').then((m) => m.runStatus),
  logs: () => import('../../runtime/cli/orch/logs.ts').then((m) => m.runLogs),
  restart: () => import('../../runtime/cli/orch/restart.ts').then((m) => m.runRestart),
};

// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
async function main(argv: string[]): Promise<void> {
  const load = runners[argv[0] ?? ''];
  if (load === undefined) {
    process.exitCode = runOrch(argv, io);
    return;
  }
  const runIO: RunIO = {
    ...io,
    onStopSignal: (handler) => onStopSignals((name) => handler(name)),
  };
  const run = await load();
  // The runtime's timers are unref'd; a long-running command keeps orch alive until it is done.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const code = await run(argv, runIO).finally(() => clearInterval(keepAlive));
  // Exit explicitly: children of a detached run and engine sockets must not keep orch alive.
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`orch: ${errorMessage(err)}\n`);
  process.exit(1);
});
