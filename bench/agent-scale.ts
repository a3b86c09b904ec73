// 500 Deployments in one commit: `orun start` (poll interval 1 s) converges 50 Deployments of
// orun-test/busybox:1 without host ports (500 published ports are 500 docker-proxy processes and
// iptables rules: the engine's cost, not the agent's; readiness is probed on the container's
// address all the same) — the size of the other benches, the same-run baseline for adding — then
// one commit changes the env of those 50 (every container replaced: the same-run baseline for
// changing), then one commit adds 450 more (500 in all), then one commit changes the env of all 500.
// Per phase: time from the push to all Ready on the new generation, time per Deployment, watch
// events (status writes seen by a client), reconciles and work-queue adds (from /metrics), the
// agent's peak RSS (sampled every 200 ms), and at the end whether the queue drained
// (workqueue_depth 0). SCALE_N (default 500) enlarges or shrinks the big phase.
// Run: node_modules/.bin/node bench/agent-scale.ts
import os from 'node:os';
import {
  Agent,
  DeploymentWatch,
  Workspace,
  assertUncontaminated,
  build,
  connect,
  containerIds,
  deploymentYaml,
  fmt,
  freePorts,
  machine,
  metricValue,
  nodeYaml,
  procSample,
  requireDockerAndImage,
  runBench,
  sleep,
  writeSection,
} from './support/agent-bench.ts';

const N = Number(process.env.SCALE_N ?? 500);
const SMALL = 50;
const QUIET_MS = 5000;
const PHASE_TIMEOUT_MS = Number(process.env.SCALE_PHASE_TIMEOUT_S ?? 1500) * 1000;

let ws: Workspace | undefined;
let agent: Agent | undefined;
let watch: DeploymentWatch | undefined;

interface Phase {
  name: string;
  count: number;
  ms: number;
  events: number;
  maxEvents: number;
  reconciles: number;
  adds: number;
  peakRssMiB: number;
}

async function metrics(a: Agent): Promise<{ reconciles: number; adds: number; depth: number }> {
  const text = await a.metrics();
  return {
    reconciles: metricValue(text, 'controller_runtime_reconcile_total', 'controller="deployment"'),
    adds: metricValue(text, 'workqueue_adds_total', 'name="deployment"'),
    depth: metricValue(text, 'workqueue_depth', 'name="deployment"'),
  };
}

async function phase(
  name: string,
  a: Agent,
  w: DeploymentWatch,
  names: string[],
  /** The generation each name must be Ready at. */
  generation: (name: string) => number,
  push: () => void,
): Promise<Phase> {
  const done = (): boolean => names.every((n) => w.allReady([n], generation(n)));
  const m0 = await metrics(a);
  const e0 = w.events.length;
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling && a.alive()) {
      try {
        peak = Math.max(peak, procSample(a.pid).rssKiB);
      } catch {
        return; // the agent exited (e.g. stopped after a timed-out phase)
      }
      await sleep(200);
    }
  })();
  const t0 = performance.now();
  push();
  const t = await w.until(`${name}: all ${names.length} Ready`, done, PHASE_TIMEOUT_MS).finally(() => {
    if (!done()) sampling = false;
  });
  await sleep(QUIET_MS);
  sampling = false;
  await sampler;
  const m1 = await metrics(a);
  const per = new Map<string, number>();
  for (const e of w.events.slice(e0)) per.set(e.name, (per.get(e.name) ?? 0) + 1);
  return {
    name,
    count: names.length,
    ms: t - t0,
    events: w.events.length - e0,
    maxEvents: Math.max(0, ...per.values()),
    reconciles: m1.reconciles - m0.reconciles,
    adds: m1.adds - m0.adds,
    peakRssMiB: peak / 1024,
  };
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
}

async function main(): Promise<void> {
  const load0 = loadavg();
  requireDockerAndImage();
  build();
  const w0 = (ws = new Workspace());
  const [metricsPort] = await freePorts(1);
  const names = Array.from({ length: N }, (_, i) => `${w0.prefix}d${i}`);
  const files = (upTo: number, env: string) =>
    Object.fromEntries(
      names
        .slice(0, upTo)
        .map((n, i) => [`deployments/${n}.yaml`, deploymentYaml(n, undefined, { INDEX: String(i), V: env })]),
    );
  w0.repo.write({ [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare) }).commit('node');
  const a = (agent = new Agent({
    repo: w0.repo.bare,
    node: w0.node,
    dataDir: w0.dataDir,
    metricsPort: metricsPort!,
  }));
  const client = await connect(a);
  const w = (watch = new DeploymentWatch(client));
  await sleep(2000);

  console.error(`phase 1: ${SMALL} Deployments in one commit`);
  const p1 = await phase(
    `${SMALL} added`,
    a,
    w,
    names.slice(0, SMALL),
    () => 1,
    () => w0.repo.write(files(SMALL, 'a')).commit(`${SMALL} deployments`),
  );
  console.error(JSON.stringify(p1));
  console.error(`phase 2: all ${SMALL} changed in one commit`);
  const p2c = await phase(
    `all ${SMALL} changed`,
    a,
    w,
    names.slice(0, SMALL),
    () => 2,
    () => w0.repo.write(files(SMALL, 'b')).commit(`${SMALL} deployments changed`),
  );
  console.error(JSON.stringify(p2c));
  console.error(`phase 3: ${N - SMALL} more in one commit (${N} in all)`);
  // The first 50 keep env 'b' (generation 2); the 450 new ones are at generation 1.
  const added = names.slice(SMALL);
  const p2 = await phase(
    `${N - SMALL} added (${N} in all)`,
    a,
    w,
    added,
    () => 1,
    () => w0.repo.write(files(N, 'b')).commit(`${N} deployments`),
  );
  console.error(JSON.stringify(p2));
  console.error(`phase 4: all ${N} changed in one commit`);
  const small = new Set(names.slice(0, SMALL));
  const p3 = await phase(
    `all ${N} changed`,
    a,
    w,
    names,
    (n) => (small.has(n) ? 3 : 2),
    () => w0.repo.write(files(N, 'c')).commit(`${N} deployments changed`),
  );
  console.error(JSON.stringify(p3));
  const end = await metrics(a);
  const running = containerIds(w0.prefix).length;
  assertUncontaminated(a, w0.prefix);

  const row = (p: Phase, base: Phase, vs: string) => {
    const per = p.ms / p.count;
    const basePer = base.ms / base.count;
    return `| ${p.name} | ${fmt(p.ms / 1000, 1)} s | ${fmt(per, 0)} ms | ${fmt(per / basePer, 2)}× ${vs} | ${p.events} (max ${p.maxEvents}) | ${p.reconciles} | ${p.adds} | ${fmt(p.peakRssMiB, 1)} MiB |`;
  };
  writeSection('agent-scale', [
    `### Agent: ${N} Deployments in one commit (\`bench/agent-scale.ts\`)`,
    '',
    `\`orun start\` (poll interval 1 s, 4 workers) with Deployments of \`orun-test/busybox:1\` without host ports (env, readiness`,
    `\`localhost:80/health\` probed on the container's address). One commit adds ${SMALL}, the next changes the env of those ${SMALL}`,
    `(every container replaced: RollingUpdate, i.e. create, start, probe, 2 s drain, graceful stop, remove) — the two same-run`,
    `baselines — then one commit adds ${N - SMALL} more (${N} in all), the next changes the env of all ${N}. Time: push → a local-API`,
    'watch shows all of the phase Ready on its new generation; per Deployment = that time / the Deployments the commit touched.',
    `Events: watch events (status writes) in the phase and the ${QUIET_MS / 1000} s after it; reconciles`,
    '(controller_runtime_reconcile_total) and queue adds (workqueue_adds_total) from /metrics; peak RSS sampled every 200 ms.',
    `The machine was shared with seven other engineers running tests: load average ${load0} at the start, ${loadavg()} at the end.`,
    machine(),
    '',
    '| phase | push → all Ready | per Deployment | ratio | watch events | reconciles | queue adds | peak RSS |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row(p1, p1, 'vs 50 added'),
    row(p2c, p2c, 'vs 50 changed'),
    row(p2, p1, 'vs 50 added'),
    row(p3, p2c, 'vs 50 changed'),
    '',
    `After the last phase (and ${QUIET_MS / 1000} s): workqueue_depth{name="deployment"} ${end.depth}${end.depth === 0 ? ' (the queue drained)' : ' (NOT drained)'}, ${running} containers running.`,
    'Reconciles above one per Deployment are requeues by design (readiness retries until the first success,',
    'the drain before the old container is stopped), not a second reconcile of one change: the queue holds a key once.',
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
