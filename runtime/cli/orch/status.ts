/**
 * `orch status [FILE...]`: one row per service, like `docker compose ps`:
 * SERVICE MODE STATE PID/CONTAINER HEALTH RESTARTS (runtime/graph lifecycle.ts `projectStatus`:
 * the supervising `orch up`'s own words, foreground or `-d`). `-o json` prints the rows as JSON.
 */
import { Option } from 'commander';
import { projectStatus, type StatusRow } from '../../graph/index.ts';
import { formatCells, type TabwriterOptions } from '../tabwriter.ts';
import { commonOptions, loadProject, projectContext, runCommand, type RunIO } from './up.ts';

type Row = StatusRow;

/** `docker compose ps`'s spacing: no minimal width, 3 spaces between columns. */
const ORCH_TABLE: TabwriterOptions = { minWidth: 0, padding: 3 };

export function runStatus(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('status')
        .alias('ps')
        .description('show each service: mode, state, pid or container, health, restarts')
        .argument('[files...]', 'Orchfiles: the base, then overlays (default: ./Orchfile)'),
    )
      .addOption(
        new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
      )
      .action(
        (
          files: string[],
          o: { arg: string[]; projectName?: string; prefix?: string; output: 'table' | 'json' },
        ) => setResult(status(files, o, io)),
      );
  });
}

async function status(
  files: string[],
  o: { arg: string[]; projectName?: string; prefix?: string; output: 'table' | 'json' },
  io: RunIO,
): Promise<number> {
  const p = loadProject(files, o, io);
  if (p === undefined) return 1;
  const { rows, ok } = await projectStatus(projectContext(p, io));
  if (o.output === 'json') io.stdout(JSON.stringify(rows, null, 2) + '\n');
  else io.stdout(table(rows));
  return ok ? 0 : 1;
}

/** The one table printer (runtime/cli/tabwriter.ts): columns padded by 3, `<none>` for an empty cell. */
function table(rows: Row[]): string {
  const header = ['SERVICE', 'MODE', 'STATE', 'PID/CONTAINER', 'HEALTH', 'RESTARTS'];
  const cells = rows.map((r) =>
    [r.service, r.mode, r.state, r.target, r.health, String(r.restarts)].map((c) =>
      c === '' ? '<none>' : c,
    ),
  );
  return formatCells([header, ...cells], ORCH_TABLE);
}
