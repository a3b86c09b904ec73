/**
 * `orch down [FILE...]`: stop what `orch up` started for this project (runtime/graph lifecycle.ts
 * `downProject`): the supervising `orch up` (foreground or `-d`) first, then anything still
 * recorded, then the containers and the network. Volumes are never removed.
 */
import { downProject } from '../../graph/index.ts';
import { commonOptions, loadProject, projectContext, runCommand, type RunIO } from './up.ts';

export function runDown(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('down')
        .description(
          'stop the supervising orch up, host services and containers (removed, never volumes), dependants first',
        )
        .argument('[files...]', 'Orchfiles: the base, then overlays (default: ./Orchfile)'),
    ).action((files: string[], o: { arg: string[]; projectName?: string; prefix?: string }) =>
      setResult(down(files, o, io)),
    );
  });
}

async function down(
  files: string[],
  o: { arg: string[]; projectName?: string; prefix?: string },
  io: RunIO,
): Promise<number> {
  const p = loadProject(files, o, io);
  if (p === undefined) return 1;
  const ok = await downProject(projectContext(p, io));
  return ok ? 0 : 1;
}
