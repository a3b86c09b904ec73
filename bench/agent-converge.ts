// Time for `orun start` to converge 50 Deployments from an empty node (agent started against a
// repo holding 50 Deployments, until all 50 are Ready on its local API), against the baseline of
// 50 plain sequential `docker run -d` commands of the same containers (image, env, host port), then
// waiting until every host port's /health answers; both in the same run, cleaned up in between.
// Also counts the status writes (watch events) per Deployment during and after convergence, and
// measures the engine's own throughput curve for exactly the calls the agent makes per Deployment
// (create with the node network and its alias, then start; through runtime/docker's adapter) with
// k of them in flight, which is what the agent's worker count is chosen from.
// Rounds (BENCH_ROUNDS, default 2) alternate baseline → agent → engine curve; the table gives the
// median of each figure over the rounds and every round's own ratio with its load average.
// Run: node_modules/.bin/node bench/agent-converge.ts
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { decodeManifestFile } from '../apis/run.orcra.dev/v0alpha/decode.ts';
import {
  desiredContainer,
  Label,
  MANAGED_BY,
  nodeNetworkName,
  type DeploymentView,
} from '../controllers/deployment/index.ts';
import { DockerEngine } from '../runtime/docker/dockerode.ts';
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
  fmt,
  freePorts,
  logTimeMs,
  machine,
  metricValue,
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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Creates+starts in flight for the engine curve. */
const IN_FLIGHT = [1, 2, 4, 8, 16];

const workspaces: Workspace[] = [];
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
  reconciles: number;
  /** Mean seconds a key waited in the queue, and a reconcile took (controller metrics). */
  queueWait: number;
  reconcileTime: number;
}

async function baseline(prefix: string, ports: number[]): Promise<{ runs: number; total: number }> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) dockerRun(`orun-${prefix}base-d${i}`, ports[i]!, { INDEX: String(i) });
  const runs = performance.now() - t0;
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 120_000)));
  return { runs, total: performance.now() - t0 };
}

/**
 * The engine's own throughput for the calls the agent makes per Deployment: `createContainer` of
 * the very spec the agent would send (node network + DNS alias, host port, labels, env), then
 * `startContainer`, through runtime/docker's adapter, with `inFlight` at a time; then all healthy.
 * The agent's worker count is chosen from where this curve stops improving.
 */
async function engineCurve(
  engine: DockerEngine,
  node: string,
  names: string[],
  ports: number[],
  inFlight: number,
  nodeNetwork = true,
): Promise<CurvePoint> {
  const network = nodeNetworkName(node);
  if (nodeNetwork) await engine.ensureNetwork(network, { labels: { [Label.managedBy]: MANAGED_BY } });
  const specs = names.map((n, i) => {
    const yaml = deploymentYaml(`${n}k${inFlight}`, ports[i], { INDEX: String(i) });
    const obj = decodeManifestFile(`deployments/${n}.yaml`, yaml, { commit: 'c0ffee' }).objects[0];
    const opts = nodeNetwork ? { nodeName: node, networkName: network } : { nodeName: node };
    return desiredContainer(obj as DeploymentView, opts).containerSpec();
  });
  const t0 = performance.now();
  let next = 0;
  let create = 0;
  let start = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) {
        const spec = specs[next++]!;
        const a = performance.now();
        const id = await engine.createContainer(spec);
        const b = performance.now();
        await engine.startContainer(id);
        create += b - a;
        start += performance.now() - b;
      }
    }),
  );
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 120_000)));
  return { total: performance.now() - t0, create: create / N, start: start / N };
}

/** The node network goes when the round's containers are gone (dockerd may lag a moment). */
async function removeNetwork(node: string): Promise<void> {
  for (let tries = 0; tries < 20; tries++) {
    try {
      execFileSync('docker', ['network', 'rm', nodeNetworkName(node)], { stdio: 'ignore' });
      return;
    } catch {
      await sleep(250);
    }
  }
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
  const m = await a.metrics();
  const ratio = (metric: string, label: string): number =>
    metricValue(m, `${metric}_sum`, label) / metricValue(m, `${metric}_count`, label);
  const result = {
    total: tAll - t0,
    apiUp,
    applied: applied === undefined ? NaN : logTimeMs(applied) - wall0,
    firstReady,
    eventsDuring: during,
    eventsAfter: after,
    maxPerDeployment: Math.max(...perName.values()),
    reconciles: metricValue(m, 'controller_runtime_reconcile_total', 'controller="deployment"'),
    queueWait: ratio('workqueue_queue_duration_seconds', 'name="deployment"'),
    reconcileTime: ratio('controller_runtime_reconcile_time_seconds', 'controller="deployment"'),
  };
  w.stop();
  await a.stop();
  return result;
}

interface CurvePoint {
  total: number;
  /** Mean ms per call. */
  create: number;
  start: number;
}

interface Round {
  load: number;
  at: string;
  base: { runs: number; total: number };
  agent: AgentResult;
  running: number;
  curve: ({ k: number } & CurvePoint)[];
  /** 4 in flight on the default bridge (no node network, no embedded DNS): what the network costs. */
  bridge: CurvePoint;
}

async function round(i: number, engine: DockerEngine): Promise<Round> {
  const w0 = new Workspace();
  workspaces.push(w0);
  const ports = await freePorts(N + 1);
  const metricsPort = ports.pop()!;
  const names = Array.from({ length: N }, (_, j) => `${w0.prefix}d${j}`);
  const load = loadavg()[0]!;
  const at = new Date().toISOString().slice(11, 16);

  console.error(`round ${i}: baseline: ${N} sequential docker run -d, then wait for every /health`);
  const base = await baseline(w0.prefix, ports);
  removeContainers(w0.prefix);

  console.error(`round ${i}: agent: converge ${N} Deployments from an empty node`);
  w0.repo
    .write({
      [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare),
      ...Object.fromEntries(
        names.map((n, j) => [`deployments/${n}.yaml`, deploymentYaml(n, ports[j], { INDEX: String(j) })]),
      ),
    })
    .commit(`${N} deployments`);
  const r = await agentPhase(w0, names, metricsPort);
  const running = containerIds(w0.prefix).length;
  // Every Ready Deployment answers on its host port too (the agent probes via the container IP).
  await Promise.all(ports.map((p) => waitHealthy(p, 20, 10_000)));
  removeContainers(w0.prefix);

  const curve: Round['curve'] = [];
  for (const k of IN_FLIGHT) {
    console.error(`round ${i}: engine: ${N}× create (network + alias) + start, ${k} in flight`);
    curve.push({ k, ...(await engineCurve(engine, w0.node, names, ports, k)) });
    removeContainers(w0.prefix);
  }
  console.error(`round ${i}: engine: ${N}× create + start on the default bridge, 4 in flight`);
  const bridge = await engineCurve(engine, w0.node, names, ports, 4, false);
  removeContainers(w0.prefix);
  await removeNetwork(w0.node);
  return { load, at, base, agent: r, running, curve, bridge };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  requireDockerAndImage();
  build();
  const engine = new DockerEngine();
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(i, engine));

  const s = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
  const med = (f: (r: Round) => number): number => median(rounds.map(f));
  const base = med((r) => r.base.total);
  const row = (label: string, f: (r: Round) => number, ratio = true): string =>
    `| ${label} | ${s(med(f))} | ${
      ratio
        ? `${fmt(
            med((r) => f(r) / r.base.total),
            2,
          )}×`
        : ''
    } | ${rounds.map((r) => (ratio ? `${fmt(f(r) / r.base.total, 2)}×` : s(f(r)))).join(' / ')} |`;
  const curveOf = (r: Round, k: number) => r.curve.find((c) => c.k === k)!;
  const a = (f: (x: AgentResult) => number) => (r: Round) => f(r.agent);
  writeSection('agent-converge', [
    '### Agent: converge 50 Deployments from an empty node (`bench/agent-converge.ts`)',
    '',
    `${N} Deployments of \`orun-test/busybox:1\` (busybox httpd, one host port each, env, readiness`,
    '`localhost:80/health`). Agent: from spawning `orun start` (poll interval 1 s) against a repo holding',
    `all ${N} until a local-API watch shows all ${N} Ready. Baseline (same round, same containers): ${N} sequential`,
    '`docker run -d` (as a shell script would), then GET every host port /health every 20 ms until all answer.',
    `Engine curve: the agent's own engine calls per Deployment (create with the node network and its alias, then`,
    'start, through runtime/docker) with k in flight, then all healthy. Containers removed between phases.',
    `${ROUNDS} rounds, each baseline → agent → engine curve; the table gives the median and each round's figure.`,
    machine(),
    `Rounds: ${rounds.map((r, i) => `${i + 1} at ${r.at} UTC, load ${fmt(r.load, 1)}`).join('; ')}.`,
    '',
    '| | time (median) | ratio vs baseline (median) | per round |',
    '|---|---:|---:|---|',
    `| baseline: ${N}× \`docker run -d\` + all healthy | ${s(base)} | 1.00× | ${rounds.map((r) => s(r.base.total)).join(' / ')} |`,
    row(`↳ of which the ${N} \`docker run -d\``, (r) => r.base.runs, false),
    ...IN_FLIGHT.map((k) =>
      row(`engine: ${N}× create + start, ${k} in flight, + all healthy`, (r) => curveOf(r, k).total),
    ),
    row(
      `engine: the same, 4 in flight, on the default bridge (no node network), + all healthy`,
      (r) => r.bridge.total,
    ),
    `| ↳ mean create / start per call, by k in flight (median) | ${IN_FLIGHT.map((k) => `${k}: ${fmt(med((r) => curveOf(r, k).create))} / ${fmt(med((r) => curveOf(r, k).start))} ms`).join('; ')}; default bridge, 4: ${fmt(med((r) => r.bridge.create))} / ${fmt(med((r) => r.bridge.start))} ms | | |`,
    row(
      `**agent: start → all ${N} Ready**`,
      a((x) => x.total),
    ),
    row(
      '↳ start → local API answers',
      a((x) => x.apiUp),
      false,
    ),
    row(
      '↳ start → revision applied to the store',
      a((x) => x.applied),
      false,
    ),
    row(
      '↳ start → first Deployment Ready',
      a((x) => x.firstReady),
      false,
    ),
    row(
      '↳ applied → all Ready',
      a((x) => x.total - x.applied),
    ),
    '',
    `Agent (median): ${fmt(med(a((x) => N / ((x.total - x.applied) / 1000))), 1)} Deployments/s after the apply; ${fmt(med(a((x) => x.reconciles)))} reconciles for ${N} Deployments;`,
    `a key waited ${fmt(med(a((x) => x.queueWait * 1000)))} ms in the queue and a reconcile took ${fmt(med(a((x) => x.reconcileTime * 1000)))} ms (means, controller metrics).`,
    `Status churn: ${med(a((x) => x.eventsDuring))} watch events for ${N} Deployments until all Ready (max ${Math.max(...rounds.map((r) => r.agent.maxPerDeployment))} for one),`,
    `${Math.max(...rounds.map((r) => r.agent.eventsAfter))} in the ${QUIET_MS / 1000} s after; ${Math.min(...rounds.map((r) => r.running))} containers running.`,
  ]);
}

runBench(
  main,
  async () => {
    watch?.stop();
    await agent?.stop();
    for (const w of workspaces) w.cleanup();
  },
  () => agent?.dump() ?? '',
);
