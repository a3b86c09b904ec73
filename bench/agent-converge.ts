// Time for `orun start` to converge 50 Deployments from an empty node (agent started against a
// repo holding 50 Deployments, until all 50 are Ready on its local API), against the baseline of
// 50 plain sequential `docker run -d` commands of the same containers (image, env, host port), then
// waiting until every host port's /health answers; both in the same run, cleaned up in between.
// Also counts the status writes (watch events) per Deployment during and after convergence.
// Run: node_modules/.bin/node bench/agent-converge.ts
import {
  Agent,
  DeploymentWatch,
  Workspace,
  assertUncontaminated,
  build,
  connect,
  containerIds,
  deploymentYaml,
  dockerRun,
  dockerRunAsync,
  fmt,
  freePorts,
  logTimeMs,
  machine,
  nodeYaml,
  removeContainers,
  requireDockerAndImage,
  runBench,
  sleep,
  waitHealthy,
  writeSection,
} from './support/agent-bench.ts';

const N = 50;
const QUIET_MS = 5000;

let ws: Workspace | undefined;
let agent: Agent | undefined;
let watch: DeploymentWatch | undefined;

interface AgentResult {
  total: number;
  apiUp: number;
  applied: number;
  firstReady: number;
  eventsDuring: number;
  eventsAfter: number;
  maxPerDeployment: number;
}

async function baseline(prefix: string, ports: number[]): Promise<{ runs: number; total: number }> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) dockerRun(`orun-${prefix}base-d${i}`, ports[i]!, { INDEX: String(i) });
  const runs = performance.now() - t0;
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 120_000)));
  return { runs, total: performance.now() - t0 };
}

/**
 * The engine's own throughput: the same N `docker run -d` with `inFlight` at a time, then all
 * healthy. The agent's worker count (4) is chosen from where this stops improving.
 */
async function parallelBaseline(prefix: string, ports: number[], inFlight: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) {
        const i = next++;
        await dockerRunAsync(`orun-${prefix}par${inFlight}-d${i}`, ports[i]!, { INDEX: String(i) });
      }
    }),
  );
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 120_000)));
  return performance.now() - t0;
}

async function agentPhase(w0: Workspace, names: string[], metricsPort: number): Promise<AgentResult> {
  const t0 = performance.now();
  const wall0 = Date.now();
  const a = (agent = new Agent({ repo: w0.repo.bare, node: w0.node, dataDir: w0.dataDir, metricsPort }));
  const client = await connect(a);
  const apiUp = performance.now() - t0;
  const w = (watch = new DeploymentWatch(client));
  let firstReady = NaN;
  void w
    .until('first Ready', () => names.some((n) => w.latest.get(n)?.ready === true), 300_000)
    .then((t) => (firstReady = t - t0))
    .catch(() => undefined);
  const tAll = await w.until(`all ${N} Ready`, () => w.allReady(names, 1), 300_000);
  const during = w.events.length;
  const perName = new Map<string, number>();
  for (const e of w.events) perName.set(e.name, (perName.get(e.name) ?? 0) + 1);
  await sleep(QUIET_MS);
  const after = w.events.length - during;
  const applied = a.lines.find((l) => l.msg === 'applied revision');
  assertUncontaminated(a, w0.prefix);
  return {
    total: tAll - t0,
    apiUp,
    applied: applied === undefined ? NaN : logTimeMs(applied) - wall0,
    firstReady,
    eventsDuring: during,
    eventsAfter: after,
    maxPerDeployment: Math.max(...perName.values()),
  };
}

async function main(): Promise<void> {
  requireDockerAndImage();
  build();
  const w0 = (ws = new Workspace());
  const ports = await freePorts(N + 1);
  const metricsPort = ports.pop()!;
  const names = Array.from({ length: N }, (_, i) => `${w0.prefix}d${i}`);

  console.error(`baseline: ${N} sequential docker run -d, then wait for every /health`);
  const base = await baseline(w0.prefix, ports);
  removeContainers(w0.prefix);
  const parallel: [number, number][] = [];
  for (const inFlight of [2, 4, 8]) {
    console.error(`engine: ${N} docker run -d, ${inFlight} in flight`);
    parallel.push([inFlight, await parallelBaseline(w0.prefix, ports, inFlight)]);
    removeContainers(w0.prefix);
  }

  console.error(`agent: converge ${N} Deployments from an empty node`);
  w0.repo
    .write({
      [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare),
      ...Object.fromEntries(
        names.map((n, i) => [`deployments/${n}.yaml`, deploymentYaml(n, ports[i], { INDEX: String(i) })]),
      ),
    })
    .commit(`${N} deployments`);
  const r = await agentPhase(w0, names, metricsPort);
  const running = containerIds(w0.prefix).length;
  // Every Ready Deployment answers on its host port too (the agent probes via the container IP).
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 10_000)));

  const s = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
  writeSection('agent-converge', [
    '### Agent: converge 50 Deployments from an empty node (`bench/agent-converge.ts`)',
    '',
    `${N} Deployments of \`orun-test/busybox:1\` (busybox httpd, one host port each, env, readiness`,
    '`localhost:80/health`). Agent: from spawning `orun start` (poll interval 1 s) against a repo holding',
    `all ${N} until a local-API watch shows all ${N} Ready. Baseline (same run, same containers): ${N} sequential`,
    '`docker run -d` (as a shell script would), then GET every host port /health every 20 ms until all answer.',
    'Containers removed between phases.',
    machine(),
    '',
    '| | time | ratio vs baseline |',
    '|---|---:|---:|',
    `| baseline: ${N}× \`docker run -d\` + all healthy | ${s(base.total)} | 1.00× |`,
    `| ↳ of which the ${N} \`docker run -d\` | ${s(base.runs)} | |`,
    ...parallel.map(
      ([k, ms]) =>
        `| engine throughput: ${N}× \`docker run -d\`, ${k} in flight, + all healthy | ${s(ms)} | ${fmt(ms / base.total, 2)}× |`,
    ),
    `| **agent: start → all ${N} Ready** | ${s(r.total)} | ${fmt(r.total / base.total, 2)}× |`,
    `| ↳ start → local API answers | ${s(r.apiUp)} | |`,
    `| ↳ start → revision applied to the store | ${s(r.applied)} | |`,
    `| ↳ start → first Deployment Ready | ${s(r.firstReady)} | |`,
    `| ↳ applied → all Ready (${fmt(N / ((r.total - r.applied) / 1000), 1)} Deployments/s) | ${s(r.total - r.applied)} | ${fmt((r.total - r.applied) / base.total, 2)}× |`,
    '',
    `Status churn: ${r.eventsDuring} watch events for ${N} Deployments until all Ready (max ${r.maxPerDeployment} for one),`,
    `${r.eventsAfter} in the ${QUIET_MS / 1000} s after; ${running} containers running.`,
  ]);
}

runBench(
  main,
  async () => {
    watch?.stop();
    await agent?.stop();
    ws?.cleanup();
  },
  () => agent?.dump() ?? '',
);
