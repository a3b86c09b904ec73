/**
 * The `orch` command line: flags → files → apis/orchfile → output. Exit codes follow the
 * reference tool: 0 ok, 1 Orchfile errors (each printed as `error: file:line:col: ...`),
 * 2 usage errors (bad flags, unreadable files).
 */
import { Command, CommanderError, Option } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { formatJSON, ORCHFILE_SPEC_VERSION } from '../../../apis/orchfile/index.ts';
import { renderLaunchd, renderSystemd, type RenderedFile } from '../../../apis/orchfile/render/index.ts';
import { pairs, UsageError, withGraph } from './graph.ts';

/** Everything the CLI touches outside itself, so tests can run it in-process. */
export interface OrchIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Throws when the file cannot be read. */
  readonly readFile: (path: string) => string;
  /** Creates parent directories as needed. */
  readonly writeFile: (path: string, content: string) => void;
}

/** Runs `orch` with `argv` (without the node and script paths) and returns the exit code. */
export function runOrch(argv: readonly string[], io: OrchIO): number {
  let exitCode = 0;
  const program = new Command('orch')
    .description(
      'Parse, validate, render and run Orchfiles (base file first, then overlays, merged left to right).',
    )
    .version(`orch (Orchfile spec ${ORCHFILE_SPEC_VERSION})`, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText(
      'after',
      '\nRunning a graph:\n' +
        '  up [files...] [services...]   start the graph in dependency order; -d leaves a supervisor running\n' +
        '  down [files...]               stop the supervisor, host processes and containers (never volumes)\n' +
        "  status|ps [files...]          show each service's state and health (-o table|json)\n" +
        "  logs [files...] SERVICE [-f]  a service's output\n" +
        '  restart [files...] SERVICE    restart a service through its supervisor\n' +
        '  (files default to ./Orchfile; run `orch up --help` for options)\n' +
        '\nEnvironment:\n  ORCH_ARG_<name>=value  override an ARG default (--arg wins over it)\n\n' +
        'Exit codes: 0 ok, 1 Orchfile errors, 2 usage errors.',
    );

  withArgs(program.command('parse'))
    .description('print the merged, resolved Orchfile as JSON on stdout')
    .action((files: string[], o: { arg: string[] }) => {
      exitCode = withGraph(files, o.arg, io, (graph) => io.stdout(formatJSON(graph) + '\n'));
    });

  withArgs(program.command('validate'))
    .description("check the Orchfiles; print 'valid' on stderr when they are")
    .action((files: string[], o: { arg: string[] }) => {
      exitCode = withGraph(files, o.arg, io, () => io.stderr('valid\n'));
    });

  renderCommand(program, io, (code) => (exitCode = code));

  try {
    program.parse([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/** `orch render`: one systemd unit or launchd plist per service, printed or written to a directory. */
function renderCommand(program: Command, io: OrchIO, setExitCode: (code: number) => void): void {
  withArgs(program.command('render'))
    .description(
      'write one systemd unit per service plus <prefix>orch.target (systemctl start|stop it) and, with container services, <prefix>orch-network.service (their network), or one launchd plist per service',
    )
    .addOption(
      new Option('--platform <platform>', 'target platform')
        .choices(['systemd', 'launchd'])
        .makeOptionMandatory(),
    )
    .option('-o, --output <dir>', 'directory to write the files to (default: print them on stdout)')
    .option('--var <name=value>', 'value of a built-in variable such as ORCH_DATA (repeatable)', collect, [])
    .option('--prefix <prefix>', "unit name / label prefix (default: '' for systemd, 'orch.' for launchd)")
    .option('--container-runtime <cmd>', 'container runtime (default: podman / /usr/local/bin/container)')
    .option(
      '-p, --project-name <name>',
      'systemd: container services join <CONTAINER_PREFIX><name>_default (default: $ORCH_PROJECT_NAME, else the directory of the first Orchfile)',
    )
    .addHelpText('after', '\nORCH_PROJECT defaults to the directory of the first Orchfile.')
    .action(
      (
        files: string[],
        o: {
          arg: string[];
          platform: 'systemd' | 'launchd';
          output?: string;
          var: string[];
          prefix?: string;
          containerRuntime?: string;
          projectName?: string;
        },
      ) => {
        setExitCode(
          withGraph(files, o.arg, io, (graph) => {
            const vars = { ORCH_PROJECT: dirname(resolve(io.cwd, files[0]!)), ...pairs(o.var, '--var') };
            const opts = {
              vars,
              prefix: o.prefix,
              containerRuntime: o.containerRuntime,
              project: o.projectName ?? io.env.ORCH_PROJECT_NAME,
              readEnvFile: (path: string): string | undefined => {
                try {
                  return io.readFile(path);
                } catch {
                  return undefined;
                }
              },
            };
            const rendered =
              o.platform === 'systemd' ? renderSystemd(graph, opts) : renderLaunchd(graph, opts);
            writeRendered(rendered, o.output, io);
          }),
        );
      },
    );
}

/** The Orchfiles argument and `--arg` of parse, validate and render. */
function withArgs(cmd: Command): Command {
  return cmd
    .argument('<files...>', 'Orchfiles: the base, then overlays')
    .option('--arg <name=value>', 'override an ARG default (repeatable)', collect, []);
}

function writeRendered(files: RenderedFile[], output: string | undefined, io: OrchIO): void {
  if (output === undefined) {
    io.stdout(files.map((f) => `# file: ${f.name}\n${f.content}`).join('\n'));
    return;
  }
  for (const f of files) io.writeFile(join(resolve(io.cwd, output), f.name), f.content);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
