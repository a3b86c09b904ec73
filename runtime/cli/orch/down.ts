/**
 * `orch down [FILE...]`: stop what `orch up` started for this project (runtime/graph lifecycle.ts
 * `downProject`): the supervising `orch up` (foreground or `-d`) first, then anything still
 * recorded, then the containers and the network. Volumes are never removed: Compose's `down -v`
 * is refused before anything stops, with the `docker volume rm` that deletes them.
 */
import { downProject } from '../../graph/index.ts';
import {
  commonOptions,
  loadProject,
  projectContext,
  runCommand,
  RunUsageError,
  type LoadedProject,
  type RunIO,
} from './up.ts';

interface DownOptions {
  arg: string[];
  projectName?: string;
  prefix?: string;
  volumes?: boolean;
}

export function runDown(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('down')
        .description(
          'stop the supervising orch up, host services and containers (removed, never volumes), dependants first',
        )
        .argument('[files...]', 'Orchfiles: the base, then overlays (default: ./Orchfile)')
        .option(
          '-v, --volumes',
          "Compose's down -v: refused (orch never deletes data); says how to remove them",
        ),
    ).action((files: string[], o: DownOptions) => setResult(down(files, o, io)));
  });
}

async function down(files: string[], o: DownOptions, io: RunIO): Promise<number> {
  const p = loadProject(files, o, io);
  if (p === undefined) return 1;
  if (o.volumes === true) {
    const names = namedVolumes(p);
    throw new RunUsageError(
      "orch down never removes volumes (-v is Compose's); nothing was stopped. Run orch down without -v" +
        (names.length === 0
          ? '; this project has no named volumes'
          : `, then delete the data yourself: docker volume rm ${names.join(' ')}`),
    );
  }
  const ok = await downProject(projectContext(p, io));
  return ok ? 0 : 1;
}

/** The engine names of the project's named VOLUMEs (`<project>_<name>`, as runtime/graph creates them). */
function namedVolumes(p: LoadedProject): string[] {
  const names = p.graph.services.flatMap((s) =>
    s.mode === 'container' ? s.volumes.filter((v) => v.isNamed).map((v) => `${p.loc.name}_${v.source}`) : [],
  );
  return [...new Set(names)];
}
