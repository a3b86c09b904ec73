/**
 * `orch down FILE...`: stop what `orch up` started for this project, in reverse dependency
 * order: a foreground `orch up` is asked to stop (SIGTERM) and waited for; host processes
 * recorded in the state file get their STOP command / SIGTERM, then SIGKILL after TIMEOUT_STOP;
 * the project's containers (found by label) are stopped and removed. Volumes are never removed.
 */
import { rmSync } from 'node:fs';
import { errorMessage } from '../../apis/errors.ts';
import { realClock } from '../../runtime/clock/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import {
  defaultNetworkName,
  LABELS,
  MANAGED_BY,
  prepareService,
  projectSelector,
  readRunState,
  startOrder,
  stateFile,
} from '../../runtime/graph/index.ts';
import { NodeProcessRunner, stopProcessGroup, stringEnv } from '../../runtime/process/index.ts';
import { commonOptions, loadProject, runCommand, type RunIO } from './up.ts';

export function runDown(argv: readonly string[], io: RunIO): Promise<number> {
  return runCommand(argv, io, (program, setResult) => {
    commonOptions(
      program
        .command('down')
        .description('stop host services and stop and remove containers (never volumes), dependants first')
        .argument('<files...>', 'Orchfiles: the base, then overlays'),
    ).action((files: string[], o: { arg: string[]; projectName?: string }) => setResult(down(files, o, io)));
  });
}

async function down(files: string[], o: { arg: string[]; projectName?: string }, io: RunIO): Promise<number> {
  const p = loadProject(files, o, io);
  if (p === undefined) return 1;
  const { graph, loc } = p;
  const clock = realClock;
  let state = readRunState(loc);
  if (state?.ownerPid !== undefined && state.ownerPid !== process.pid && pidAlive(state.ownerPid)) {
    io.stderr(`orch: asking orch up (pid ${state.ownerPid}) to stop\n`);
    process.kill(state.ownerPid, 'SIGTERM');
    const deadline = clock.now() + 120_000;
    while (pidAlive(state.ownerPid) && clock.now() < deadline) await clock.sleep(100);
    state = readRunState(loc);
  }

  const order = startOrder(graph).reverse();
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : -1);
  const specs = new Map(graph.services.map((s) => [s.name, s]));
  const runner = new NodeProcessRunner();
  let code = 0;

  const hosts = (state?.services ?? [])
    .filter((s) => s.pid !== undefined)
    .sort((a, b) => rank(a.name) - rank(b.name));
  for (const s of hosts) {
    if (!runner.alive(s.pid!)) continue;
    const spec = specs.get(s.name);
    let opts = {};
    if (spec !== undefined) {
      try {
        const prepared = prepareService(spec, {
          vars: { ORCH_PROJECT: loc.dir, ORCH_STATE_DIR: loc.stateDir },
          readFile: io.readFile,
        });
        opts = {
          stopCommand: prepared.stopCommand,
          timeoutMs: prepared.stopTimeoutMs,
          env: { ...stringEnv(io.env), ...prepared.env },
          cwd: prepared.workdir,
        };
      } catch (err) {
        io.stderr(`orch: ${s.name}: ${errorMessage(err)}; stopping with SIGTERM\n`);
      }
    }
    const outcome = await stopProcessGroup(runner, clock, s.pid!, opts);
    io.stderr(
      `orch: ${s.name}: stopped (pid ${s.pid}${outcome === 'kill' ? ', killed after TIMEOUT_STOP' : ''})\n`,
    );
  }

  const needsEngine =
    graph.services.some((s) => s.mode === 'container') || (state?.services ?? []).some((s) => s.containerId);
  if (needsEngine) {
    const engine = io.engine?.() ?? new DockerEngine();
    try {
      const containers = await engine.listContainers(projectSelector(loc.name));
      containers.sort((a, b) => rank(a.labels[LABELS.service] ?? '') - rank(b.labels[LABELS.service] ?? ''));
      for (const c of containers) {
        const service = c.labels[LABELS.service] ?? c.name;
        const stop = specs.get(service)?.timeouts.stop;
        await engine.stopContainer(
          c.id,
          stop === undefined ? {} : { timeoutSeconds: parseInt(stop, 10) * (stop.endsWith('m') ? 60 : 1) },
        );
        await engine.removeContainer(c.id);
        io.stderr(`orch: ${service}: removed container ${c.name}\n`);
      }
      const network = defaultNetworkName(loc.name);
      const net = await engine.inspectNetwork(network);
      if (net?.labels[LABELS.managedBy] === MANAGED_BY && net.labels[LABELS.project] === loc.name) {
        await engine.removeNetwork(network);
        io.stderr(`orch: removed network ${network}\n`);
      }
    } catch (err) {
      io.stderr(`error: container engine: ${errorMessage(err)}\n`);
      code = 1;
    }
  }
  if (code === 0) rmSync(stateFile(loc), { force: true });
  return code;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
