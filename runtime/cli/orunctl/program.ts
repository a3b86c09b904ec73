/**
 * orunctl's commands, flags and exit codes (0 ok, 1 error, 2 usage). `run` is what main calls;
 * tests call it with their own streams.
 */
import { Command, CommanderError } from 'commander';
import { isOrunError } from '../../../apis/errors.ts';
import { DEFAULT_SOCKET_PATH } from '../../api/client.ts';
import { describe } from './commands/describe.ts';
import { events } from './commands/events.ts';
import { get } from './commands/get.ts';
import { logs } from './commands/logs.ts';
import { reconcile } from './commands/reconcile.ts';
import { rolloutStatus, type RolloutStatusOptions } from './commands/rollout.ts';
import { suspend } from './commands/suspend.ts';
import { CLIENT_VERSION, version } from './commands/version.ts';
import { EXIT_ERROR, EXIT_USAGE, UsageError, clientFor, type Context, type Io } from './context.ts';
import { paletteFor } from './printers/color.ts';

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const program = new Command('orunctl')
    .description('Inspect and operate an orun node agent through its local API.')
    .option('--socket <path>', `the agent's API socket (default: $ORUN_SOCKET, else ${DEFAULT_SOCKET_PATH})`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showSuggestionAfterError()
    .showHelpAfterError('(run "orunctl --help" for usage)');
  const ctx = (): Context => ({
    ...io,
    client: clientFor(program.opts<{ socket?: string }>().socket, io.env),
    palette: paletteFor(io.stdout, io.env),
  });
  readCommands(program, ctx);
  operateCommands(program, ctx);
  program.version(CLIENT_VERSION, '--version', 'print the client version');

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return report(err, io);
  }
}

/** get, describe, events, logs: what reads the agent's objects, events and logs. */
function readCommands(program: Command, ctx: () => Context): void {
  program
    .command('get')
    .description('List objects (KIND: nodes|no, deployments|deploy, services|svc, servicegraphs|sg, all)')
    .argument('<kind>')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .option('-o, --output <format>', 'wide|yaml|json|name')
    .option('-w, --watch', 'after listing, print a row for every change')
    .action(
      (
        kind: string,
        name: string | undefined,
        opts: { selector?: string; output?: string; watch?: boolean },
      ) => get(ctx(), kind, name, opts),
    );
  program
    .command('describe')
    .description('Show an object in detail, with its conditions and events')
    .argument('<kind>')
    .argument('[name]')
    .action((kind: string, name: string | undefined) => describe(ctx(), kind, name));
  program
    .command('events')
    .description("List the agent's events, oldest first")
    .option('-w, --watch', 'after listing, print new events as they happen')
    .action((opts: { watch?: boolean }) => events(ctx(), opts));
  program
    .command('logs')
    .description(
      "Print a Deployment's container logs (NAME or deploy/NAME), or a ServiceGraph's (sg/NAME [SERVICE]: " +
        'one service, else every service with lines prefixed [service])',
    )
    .argument('<target>', 'NAME, deploy/NAME or sg/NAME')
    .argument('[service]', 'sg/NAME only: one service of the graph')
    .option('-c, --container <service>', 'sg/NAME only: one service of the graph (as kubectl -c)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <lines>', 'only the last N lines (per service; default: all)')
    .action(
      (
        target: string,
        service: string | undefined,
        opts: { follow?: boolean; tail?: string; container?: string },
      ) => logs(ctx(), target, service, opts),
    );
}

/** reconcile, suspend, resume, version: what asks the agent to act (or who it is). */
function operateCommands(program: Command, ctx: () => Context): void {
  program
    .command('reconcile')
    .description(
      'Reconcile an object now (KIND NAME), or poll Git now (source); a ServiceGraph also runs its ONESHOT services again',
    )
    .argument('<kind|source>')
    .argument('[name]')
    .action((target: string, name: string | undefined) => reconcile(ctx(), target, name));
  for (const [verb, on] of [
    ['suspend', true],
    ['resume', false],
  ] as const)
    program
      .command(verb)
      .description(
        on
          ? 'Stop reconciling and pruning an object (deploy NAME, sg NAME) or the whole node (node); survives restarts'
          : 'Reconcile a suspended object (deploy NAME, sg NAME) or node (node) again',
      )
      .argument('<kind|kind/name>')
      .argument('[name]')
      .action((target: string, name: string | undefined) => suspend(ctx(), target, name, on));
  program
    .command('rollout')
    .description('Wait for a rollout (rollout status deploy/NAME [--revision SHA])')
    .command('status')
    .description(
      'Wait until a Deployment (or ServiceGraph) runs its current spec and is ready, as kubectl rollout status: ' +
        'exit 0 rolled out, 1 failed (Stalled, e.g. ProgressDeadlineExceeded), suspended or timed out',
    )
    .argument('<kind/name|kind>', 'deploy/NAME, sg/NAME, or KIND NAME')
    .argument('[name]')
    .option(
      '--revision <sha>',
      'first poll Git and wait until the node applied this commit (e.g. $(git rev-parse HEAD) after a push)',
    )
    .option('--timeout <duration>', 'give up after this long, e.g. 5m (default: wait until done)')
    .action((target: string, name: string | undefined, opts: RolloutStatusOptions) =>
      rolloutStatus(ctx(), target, name, opts),
    );
  program
    .command('version')
    .description('Print the client and agent versions')
    .option('--client', 'only the client version')
    .action((opts: { client?: boolean }) => version(ctx(), opts));
}

/** Prints `err` like kubectl and returns the exit code. */
function report(err: unknown, io: Io): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE; // commander printed it
  if (err instanceof UsageError) {
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (isOrunError(err, 'ApiAborted')) return 0;
  if (isOrunError(err, 'ApiNotFound') || isOrunError(err, 'ApiBadRequest')) {
    const reason = err.code === 'ApiNotFound' ? 'NotFound' : 'BadRequest';
    io.stderr.write(`Error from server (${reason}): ${err.message}\n`);
    return EXIT_ERROR;
  }
  if (isOrunError(err, 'InvalidLabelSelector')) {
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_ERROR;
}
