/**
 * `orch restart [FILE...] SERVICE...`: the supervising `orch up` (foreground or `-d`) stops each
 * service's instance and starts it again (runtime/graph control.ts → GraphExecutor.restart).
 */
import { errorMessage } from '../../../apis/errors.ts';
import { controlSocketPath, sendControl } from '../../graph/index.ts';
import { commonOptions, loadProject, runCommand, RunUsageError, type RunIO } from './up.ts';

export function runRestart(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('restart')
        .description('restart services through the orch up that supervises the project')
        .argument('<files-and-services...>', 'Orchfiles (default: ./Orchfile), then service names'),
    ).action((positionals: string[], o: { arg: string[]; projectName?: string; prefix?: string }) =>
      setResult(restart(positionals, o, io)),
    );
  });
}

async function restart(
  positionals: string[],
  o: { arg: string[]; projectName?: string; prefix?: string },
  io: RunIO,
): Promise<number> {
  const p = loadProject(positionals, o, io);
  if (p === undefined) return 1;
  if (p.services.length === 0) throw new RunUsageError('name the services to restart');
  for (const s of p.services) {
    if (!p.graph.services.some((x) => x.name === s)) {
      throw new RunUsageError(`no service named '${s}' in the Orchfiles`);
    }
  }
  const socket = controlSocketPath(p.loc.stateDir, p.loc.name);
  for (const s of p.services) {
    try {
      await sendControl(socket, { restart: s });
      io.stderr(`orch: ${s}: restarted\n`);
    } catch (err) {
      io.stderr(`error: restart ${s}: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  return 0;
}
