/**
 * `orch status FILE...`: one row per service, like `docker compose ps`:
 * SERVICE MODE STATE PID/CONTAINER HEALTH RESTARTS. While a foreground `orch up` runs, its
 * recorded view is shown; otherwise host pids are checked for life, containers are listed by
 * label and HEALTHCHECKs of running services are run once. `-o json` prints the rows as JSON.
 */
import { Option } from 'commander';
import { errorMessage } from '../../apis/errors.ts';
import type { OrchService } from '../../apis/orchfile/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import {
  defaultHealthChecker,
  LABELS,
  prepareService,
  projectSelector,
  readRunState,
  type ServiceStatus,
} from '../../runtime/graph/index.ts';
import { NodeProcessRunner, stringEnv } from '../../runtime/process/index.ts';
import { pidAlive } from './down.ts';
import { commonOptions, loadProject, runCommand, type RunIO } from './up.ts';

interface Row {
  service: string;
  mode: string;
  state: string;
  target: string;
  health: string;
  restarts: number;
}

export function runStatus(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('status')
        .alias('ps')
        .description('show each service: mode, state, pid or container, health, restarts')
        .argument('<files...>', 'Orchfiles: the base, then overlays'),
    )
      .addOption(
        new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'),
      )
      .action((files: string[], o: { arg: string[]; projectName?: string; output: 'table' | 'json' }) =>
        setResult(status(files, o, io)),
      );
  });
}

async function status(
  files: string[],
  o: { arg: string[]; projectName?: string; output: 'table' | 'json' },
  io: RunIO,
): Promise<number> {
  const p = loadProject(files, o, io);
  if (p === undefined) return 1;
  const { graph, loc } = p;
  const state = readRunState(loc);
  const recorded = new Map<string, ServiceStatus>((state?.services ?? []).map((s) => [s.name, s]));
  const live = state?.ownerPid !== undefined && pidAlive(state.ownerPid);
  const runner = new NodeProcessRunner();
  const checker = defaultHealthChecker(runner);
  let code = 0;

  let containers: ContainerInfo[] = [];
  if (!live && graph.services.some((s) => s.mode === 'container')) {
    try {
      containers = await (io.engine?.() ?? new DockerEngine()).listContainers(projectSelector(loc.name));
    } catch (err) {
      io.stderr(`error: container engine: ${errorMessage(err)}\n`);
      code = 1;
    }
  }

  const health = async (s: OrchService): Promise<string> => {
    if (s.healthcheck === undefined) return '';
    try {
      const prepared = prepareService(s, {
        vars: { ORCH_PROJECT: loc.dir, ORCH_STATE_DIR: loc.stateDir },
        readFile: io.readFile,
      });
      const r = await checker(prepared.healthcheck!, {
        env: { ...stringEnv(io.env), ...prepared.env },
        cwd: s.mode === 'host' ? prepared.workdir : loc.dir,
        timeoutMs: 2000,
        signal: new AbortController().signal,
      });
      return r.ok ? 'healthy' : 'unhealthy';
    } catch {
      return 'unhealthy';
    }
  };

  const rows: Row[] = await Promise.all(
    graph.services.map(async (s): Promise<Row> => {
      const r = recorded.get(s.name);
      const base = { service: s.name, mode: s.mode, restarts: r?.restarts ?? 0 };
      if (live && r !== undefined) {
        return {
          ...base,
          state: r.state,
          target: r.pid?.toString() ?? r.containerName ?? '',
          health: r.health,
        };
      }
      if (s.mode === 'host') {
        if (r?.pid === undefined)
          return {
            ...base,
            state: r?.state ?? (s.disabled ? 'disabled' : 'not-started'),
            target: '',
            health: '',
          };
        const alive = runner.alive(r.pid);
        return {
          ...base,
          state: alive ? 'running' : 'exited',
          target: String(r.pid),
          health: alive ? await health(s) : '',
        };
      }
      const c = containers.find((x) => x.labels[LABELS.service] === s.name);
      if (c === undefined)
        return {
          ...base,
          state: live ? (r?.state ?? 'not-started') : s.disabled ? 'disabled' : 'not-started',
          target: '',
          health: '',
        };
      const state = c.state === 'exited' ? `exited (${c.exitCode})` : c.state;
      return { ...base, state, target: c.name, health: c.state === 'running' ? await health(s) : '' };
    }),
  );

  if (o.output === 'json') io.stdout(JSON.stringify(rows, null, 2) + '\n');
  else io.stdout(table(rows));
  return code;
}

function table(rows: Row[]): string {
  const header = ['SERVICE', 'MODE', 'STATE', 'PID/CONTAINER', 'HEALTH', 'RESTARTS'];
  const cells = rows.map((r) =>
    [r.service, r.mode, r.state, r.target, r.health, String(r.restarts)].map((c) =>
      c === '' ? '<none>' : c,
    ),
  );
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all
    .map(
      (row) =>
        row
          .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd() + '\n',
    )
    .join('');
}
