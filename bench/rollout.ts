// Requests through the agent's Caddy while Deployments roll out, against the same load with no
// rollout in the same run. nginx from Debian's package (orun-test/nginx:1), readiness
// localhost:80/health every 1 s, 20 requests/s on fresh connections (test/support/load.ts).
//   1. RollingUpdate (internal port, the default): ROLLOUTS env changes one after another, each
//      waited until the new container serves alone; failed requests, p50/p99 latency.
//   2. Baseline: the same load for the same time, no rollout.
//   3. Recreate (a fixed host port): RECREATES env changes; failed requests and the longest gap.
// Run: node_modules/.bin/node bench/rollout.ts   (ROLLOUTS=10 RECREATES=3 RPS=20 by default)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  AgentProcess,
  condition,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../test/support/agent.ts';
import { TestGitRepo } from '../test/support/git-repo.ts';
import { percentile, runLoad, type LoadResult } from '../test/support/load.ts';
import { deploymentManifest } from '../test/support/manifests.ts';
import { freePort } from '../test/support/net.ts';
import { APP_IMAGES, requireAppImage, requireCommand } from '../test/support/services.ts';
import { build, fmt, machine, runBench, writeSection } from './support/agent-bench.ts';

const ROLLOUTS = Number(process.env.ROLLOUTS ?? 10);
const RECREATES = Number(process.env.RECREATES ?? 3);
const RPS = Number(process.env.RPS ?? 20);

const prefix = uniquePrefix('bro');
const node = `${prefix}-node`;
let repo: TestGitRepo | undefined;
let agent: AgentProcess | undefined;
let dataDir = '';

function service(name: string, host: string): string {
  return stringify({
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Service',
    metadata: { name },
    spec: { deployment: name, ingress: { domain: { default: host }, ssl: false } },
  });
}

async function rolledOut(a: AgentProcess, name: string, gen: number): Promise<void> {
  await waitFor(
    `${name} generation ${gen} serving alone`,
    async () => {
      const d = await a.object('deployments', name);
      const st = d?.status;
      return (
        st?.observedGeneration === gen &&
        st.ready === true &&
        st.rollout === undefined &&
        condition(d, 'Ready')?.status === 'True'
      );
    },
    120_000,
    () => a.dump(),
  );
}

interface Row {
  what: string;
  result: LoadResult;
  seconds: number;
}

function row(r: Row): string {
  const ok = r.result.samples.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.latencyMs);
  const statuses = Object.entries(r.result.byStatus)
    .map(([s, n]) => `${n}× ${s === '0' ? 'conn error' : s}`)
    .join(', ');
  return `| ${r.what} | ${fmt(r.seconds, 1)} | ${r.result.samples.length} | ${r.result.failed}${statuses === '' ? '' : ` (${statuses})`} | ${fmt(r.result.longestGapMs)} | ${fmt(percentile(ok, 50), 1)} | ${fmt(percentile(ok, 99), 1)} |`;
}

async function main(): Promise<void> {
  requireCommand('caddy', 'caddy', ['version']);
  requireAppImage(APP_IMAGES.nginx);
  build();
  const [httpPort, httpsPort, fixedPort] = await Promise.all([freePort(), freePort(), freePort()]);
  repo = new TestGitRepo('orun-bench-rollout-');
  dataDir = mkdtempSync(join(tmpdir(), 'orun-bench-rollout-'));
  const web = `${prefix}-web`;
  const fixed = `${prefix}-fixed`;
  const spec = (round: number, hostPort?: number) => ({
    image: APP_IMAGES.nginx,
    ports: [hostPort === undefined ? { containerPort: 80 } : { containerPort: 80, port: hostPort }],
    env: { ROUND: String(round) },
    health: { readiness: { http: 'localhost:80/health', periodSeconds: 1 } },
  });
  repo
    .write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${web}.yaml`]: deploymentManifest(web, spec(0)),
      [`services/${web}.yaml`]: service(web, `${web}.bench`),
      [`deployments/${fixed}.yaml`]: deploymentManifest(fixed, spec(0, fixedPort)),
      [`services/${fixed}.yaml`]: service(fixed, `${fixed}.bench`),
    })
    .commit('bench apps');
  const a = new AgentProcess({ repo: repo.bare, node, dataDir, ingress: { httpPort, httpsPort } });
  agent = a;
  await rolledOut(a, web, 1);
  await rolledOut(a, fixed, 1);
  await waitFor('Caddy routes both', async () => {
    const s1 = await a.object('services', web);
    const s2 = await a.object('services', fixed);
    return s1?.status?.upstream !== undefined && s2?.status?.upstream !== undefined;
  });

  const measure = async (
    what: string,
    host: string,
    fn: (signal: AbortSignal) => Promise<void>,
  ): Promise<Row> => {
    const stop = new AbortController();
    const t0 = performance.now();
    const load = runLoad({ port: httpPort, host, rps: RPS, signal: stop.signal });
    try {
      await fn(stop.signal);
    } finally {
      stop.abort();
    }
    const result = await load;
    return { what, result, seconds: (performance.now() - t0) / 1000 };
  };

  const rolling = await measure(`${ROLLOUTS} RollingUpdate rollouts`, `${web}.bench`, async () => {
    for (let i = 1; i <= ROLLOUTS; i++) {
      repo?.write({ [`deployments/${web}.yaml`]: deploymentManifest(web, spec(i)) }).commit(`web ${i}`);
      await rolledOut(a, web, i + 1);
    }
  });
  const baseline = await measure('baseline: same load, no rollout', `${web}.bench`, async (signal) => {
    await new Promise<void>((r) => {
      const t = setTimeout(r, rolling.seconds * 1000);
      signal.addEventListener('abort', () => clearTimeout(t), { once: true });
    });
  });
  const recreate = await measure(
    `${RECREATES} Recreate rollouts (fixed host port)`,
    `${fixed}.bench`,
    async () => {
      for (let i = 1; i <= RECREATES; i++) {
        repo
          ?.write({ [`deployments/${fixed}.yaml`]: deploymentManifest(fixed, spec(i, fixedPort)) })
          .commit(`fixed ${i}`);
        await rolledOut(a, fixed, i + 1);
      }
    },
  );

  const ok = (r: Row) =>
    r.result.samples.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.latencyMs);
  const ratio = (p: number) => percentile(ok(rolling), p) / percentile(ok(baseline), p);
  writeSection('rollout', [
    '## Rollouts behind the ingress (`bench/rollout.ts`)',
    '',
    machine(),
    `Load average at the end: ${loadavg()
      .map((l) => fmt(l, 1))
      .join(', ')} (the machine is shared; the stop/create/start steps of Recreate slow down with it).`,
    '',
    `${RPS} requests/s through the agent's Caddy (a fresh connection each), nginx (orun-test/nginx:1, readiness localhost:80/health every 1 s). Each rollout is an env change, waited until the new container serves alone. Latency of the successful requests, ms.`,
    '',
    '| load during | seconds | requests | failed | longest failure run (ms) | p50 | p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row(rolling),
    row(baseline),
    row(recreate),
    '',
    `RollingUpdate vs the same load without rollouts: p50 ×${fmt(ratio(50), 2)}, p99 ×${fmt(ratio(99), 2)}. Recreate stops the old container first (a fixed host port cannot be held twice): the route stays on it until it has stopped (502 while nginx closes its listener during its graceful SIGQUIT stop), then answers 503 until the new one is ready.`,
  ]);
}

runBench(main, async () => {
  await agent?.stop('SIGTERM');
  removeContainers(prefix);
  repo?.cleanup();
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
});
