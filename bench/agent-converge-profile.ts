// Where the time of a converge goes: the Deployment controller in process (real Store, Controller
// and work queue, runtime/docker's DockerEngine, the HTTP prober), every engine call, probe and
// status write timed per Deployment, 50 Deployments of busybox applied to an empty node at once.
// Prints the totals per call and the timeline of a few Deployments (not a BENCHMARKS.md section:
// bench/agent-converge.ts is the benchmark; this is its profile).
// Run: WORKERS=4 node_modules/.bin/node bench/agent-converge-profile.ts
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { decodeManifestFile } from '../apis/run.orcra.dev/v0alpha/decode.ts';
import { newDeploymentController, nodeNetworkName } from '../controllers/deployment/index.ts';
import { realClock } from '../runtime/clock/index.ts';
import { DockerEngine } from '../runtime/docker/dockerode.ts';
import { EventRecorder } from '../runtime/events/index.ts';
import { probeHTTP } from '../runtime/probe/http.ts';
import { Store } from '../runtime/store/index.ts';
import { benchPrefix, deploymentYaml, freePorts, removeContainers, sleep } from './support/agent-bench.ts';

const N = Number(process.env.N ?? 50);
const WORKERS = Number(process.env.WORKERS ?? 4);

interface Call {
  what: string;
  deployment: string;
  t0: number;
  t1: number;
}

async function main(): Promise<void> {
  const prefix = benchPrefix();
  const node = `${prefix}node`;
  const calls: Call[] = [];
  const T0 = performance.now();
  const now = (): number => performance.now() - T0;
  const byId = new Map<string, string>();
  const ipTo = new Map<string, string>();
  const real = new DockerEngine();
  const deploymentOf = (method: string, arg: unknown): string => {
    if (method === 'createContainer')
      return (arg as { labels?: Record<string, string> }).labels?.['run.orcra.dev/deployment'] ?? '';
    if (method === 'listContainers') return (arg as Record<string, string>)['run.orcra.dev/deployment'] ?? '';
    return typeof arg === 'string' ? (byId.get(arg) ?? '') : '';
  };
  // Every engine call but the event stream, timed.
  const engine = new Proxy(real, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      const f = v as (...args: unknown[]) => unknown;
      if (prop === 'events') return f.bind(target);
      return async (...args: unknown[]) => {
        const t0 = now();
        const res = await f.apply(target, args);
        const deployment = deploymentOf(String(prop), args[0]);
        if (prop === 'createContainer') byId.set(res as string, deployment);
        // The prober only knows the container's IP.
        const nets = (res as { networks?: Record<string, { ipAddress?: string }> } | undefined)?.networks;
        for (const n of Object.values(nets ?? {})) if (n.ipAddress) ipTo.set(n.ipAddress, deployment);
        calls.push({ what: String(prop), deployment, t0, t1: now() });
        return res;
      };
    },
  });
  const store = new Store();
  const updateStatus = store.updateStatus.bind(store);
  store.updateStatus = (kind: string, name: string, fn: never) => {
    const t0 = now();
    const r = updateStatus(kind, name, fn);
    const ready = (r.status as { ready?: boolean } | undefined)?.ready === true;
    calls.push({ what: `status write (ready=${ready})`, deployment: name, t0, t1: now() });
    return r;
  };
  const probe: typeof probeHTTP = async (o) => {
    const t0 = now();
    const r = await probeHTTP(o);
    calls.push({
      what: `probe (${r.ok ? 'ok' : 'failed'})`,
      deployment: ipTo.get(o.host) ?? o.host,
      t0,
      t1: now(),
    });
    return r;
  };
  const lines: { msg?: string; name?: string; at: number }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push({ ...(JSON.parse(s) as object), at: now() }) },
  );
  const ports = await freePorts(N);
  const objects = ports.flatMap(
    (p, i) =>
      decodeManifestFile(
        `deployments/d${i}.yaml`,
        deploymentYaml(`${prefix}d${i}`, p, { INDEX: String(i) }),
        {
          commit: 'c0ffee',
        },
      ).objects,
  );
  const names = objects.map((o) => o.metadata.name);
  const stop = new AbortController();
  const ctrl = newDeploymentController({
    store,
    engine: engine,
    clock: realClock,
    registry: new Registry(),
    logger,
    events: new EventRecorder().for('deployment-controller'),
    nodeName: node,
    networkName: nodeNetworkName(node),
    probe,
    workers: WORKERS,
  });
  const running = ctrl.start(stop.signal);
  const load = loadavg()[0]!;
  try {
    await sleep(300);
    const tApply = now();
    store.apply({ kinds: ['Deployment'], objects, revision: 'c0ffee' });
    const isReady = (n: string): boolean =>
      (store.get('Deployment', n)?.status as { ready?: boolean } | undefined)?.ready === true;
    while (!names.every(isReady)) await sleep(10);
    const tAll = now();
    console.log(
      `${N} Deployments, ${WORKERS} workers: apply → all Ready ${(tAll - tApply).toFixed(0)} ms; load ${load.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`,
    );
    const totals = new Map<string, { n: number; ms: number }>();
    for (const c of calls) {
      const t = totals.get(c.what) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += c.t1 - c.t0;
      totals.set(c.what, t);
    }
    for (const [what, t] of [...totals].sort((a, b) => b[1].ms - a[1].ms))
      console.log(
        `${what.padEnd(26)} ×${String(t.n).padStart(4)}  mean ${(t.ms / t.n).toFixed(1).padStart(7)} ms  sum ${t.ms.toFixed(0).padStart(6)} ms`,
      );
    const reconciles = lines.filter((l) => l.msg === 'Reconciling');
    console.log(`reconciles: ${reconciles.length} (${(reconciles.length / N).toFixed(2)} per Deployment)`);
    for (const n of [names[0]!, names[Math.floor(N / 2)]!, names[N - 1]!]) {
      console.log(`timeline of ${n} (ms after the apply):`);
      const events = [
        ...calls
          .filter((c) => c.deployment === n)
          .map((c) => ({ t: c.t0, s: `${c.what} ${(c.t1 - c.t0).toFixed(0)} ms` })),
        ...lines
          .filter((l) => l.name === n && l.msg?.startsWith('Reconcil') === true)
          .map((l) => ({ t: l.at, s: l.msg! })),
      ].sort((a, b) => a.t - b.t);
      for (const e of events) console.log(`  ${(e.t - tApply).toFixed(0).padStart(6)}  ${e.s}`);
    }
  } finally {
    stop.abort();
    await running;
    removeContainers(prefix);
    for (let tries = 0; tries < 20; tries++) {
      try {
        execFileSync('docker', ['network', 'rm', nodeNetworkName(node)], { stdio: 'ignore' });
        break;
      } catch {
        await sleep(250);
      }
    }
  }
}

await main();
