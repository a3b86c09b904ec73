// orch: parse, validate and render Orchfiles (cli.ts); up, down, status, logs and restart run the graph.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../../apis/errors.ts';
import { onStopSignals } from '../../runtime/manager/signals.ts';
import type { OrchIO } from '../../runtime/cli/orch/cli.ts';
import { quickOrch } from '../../runtime/cli/orch/quick.ts';
import { fdWriter } from '../../runtime/cli/fdwriter.ts';
import type { RunIO } from '../../runtime/cli/orch/up.ts';

// stdout and stderr go to the fds directly (no stream to build for `orch validate`).
const io: OrchIO = {
  stdout: fdWriter(1, () => process.stdout),
  stderr: fdWriter(2, () => process.stderr),
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
// hack/build.ts bundles ./run.ts on its own (dist/orch-run.cjs).
const runners: Record<string, (() => Promise<Runner>) | undefined> = {
  up: () => import('./run.ts').then((m) => m.runUp),
  down: () => import('./run.ts').then((m) => m.runDown),
  status: () => import('./run.ts').then((m) => m.runStatus),
  ps: () => import('./run.ts').then((m) => m.runStatus),
  logs: () => import('./run.ts').then((m) => m.runLogs),
  restart: () => import('./run.ts').then((m) => m.runRestart),
};

// No top-level await: the single executable (cmd/sea) loads this module as CommonJS.
async function main(argv: string[]): Promise<void> {
  const load = runners[argv[0] ?? ''];
  if (load === undefined) {
    // A plain validate/parse never loads commander: hack/build.ts bundles cli.ts on its own.
    process.exitCode =
      quickOrch(argv, io) ?? (await import('../../runtime/cli/orch/cli.ts')).runOrch(argv, io);
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
