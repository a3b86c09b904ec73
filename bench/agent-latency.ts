// Commit-to-ready latency of `orun start` (poll interval 1 s): 20 commits, each changing one
// Deployment's env (busybox httpd, host port, readiness localhost:80/health); measured from
// `git push` returning to a watch on the local API seeing Ready=True on the new generation.
// Baselines in the same run: the manual steps, `docker rm -f` old + `docker run -d` new + poll the
// host port's /health every 20 ms (20 times), and the same with a graceful `docker stop` + `docker
// rm` (what the agent does: SIGTERM, then 10 s grace) (20 times); one rep of each runs before every
// commit, so the three share the machine's load as it changes.
// A random 0–1 s pause precedes each push, so the push lands at a random phase of the poll loop.
// Run: node_modules/.bin/node bench/agent-latency.ts
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import {
  Agent,
  DeploymentWatch,
  Workspace,
  assertUncontaminated,
  build,
  connect,
  deploymentYaml,
  dockerRun,
  field,
  fmt,
  freePorts,
  logTimeMs,
  machine,
  mean,
  metricValue,
  nodeYaml,
  percentile,
  requireDockerAndImage,
  runBench,
  sleep,
  waitHealthy,
  writeSection,
  type LogLine,
} from './support/agent-bench.ts';

const COMMITS = 20;

let ws: Workspace | undefined;
let agent: Agent | undefined;
let watch: DeploymentWatch | undefined;

interface Sample {
  total: number;
  /** push → 'fetched new revision' (poll wait + ls-remote + fetch). */
  detect: number;
  /** fetched → 'applied revision' (read from objects, decode, store apply). */
  apply: number;
  /** applied → 'container stopped' (list, image check, create the new one, stop the old with SIGTERM grace). */
  retire: number;
  /** stopped → Ready on the new generation (start the new one while the old is removed, readiness probe, status). */
  start: number;
}

/** One manual replacement of the baseline container (revision `rev`), until its /health answers. */
async function baselineRep(name: string, port: number, rev: number, graceful: boolean): Promise<number> {
  const t0 = performance.now();
  if (graceful) {
    execFileSync('docker', ['stop', name], { stdio: 'ignore' });
    execFileSync('docker', ['rm', name], { stdio: 'ignore' });
  } else execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  dockerRun(name, port, { REV: String(rev) });
  await waitHealthy(port);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  requireDockerAndImage();
  build();
  const w0 = (ws = new Workspace());
  const [basePortA, basePortB, agentPort, metricsPort] = await freePorts(4);
  const name = `${w0.prefix}lat`;

  const loads = [loadavg()[0]!];
  // Baselines A and B run alternately with the agent's commits (A, B, commit, A, B, commit …), so
  // a change of the machine's load hits all three alike. Two containers of their own, own ports.
  const baseA = `orun-${w0.prefix}base-a`;
  const baseB = `orun-${w0.prefix}base-b`;
  dockerRun(baseA, basePortA!, { REV: '0' });
  dockerRun(baseB, basePortB!, { REV: '0' });
  await Promise.all([waitHealthy(basePortA!), waitHealthy(basePortB!)]);
  const base: number[] = [];
  const graceful: number[] = [];
  console.error(`agent: ${COMMITS} commits`);
  const file = `deployments/${name}.yaml`;
  w0.repo
    .write({
      [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare),
      [file]: deploymentYaml(name, agentPort, { REV: '0' }),
    })
    .commit('rev 0');
  const a = (agent = new Agent({
    repo: w0.repo.bare,
    node: w0.node,
    dataDir: w0.dataDir,
    metricsPort: metricsPort!,
  }));
  const client = await connect(a);
  const w = (watch = new DeploymentWatch(client));
  await w.until('first Ready', () => w.allReady([name], 1), 60_000);
  await sleep(1500);
  const m0 = await a.metrics();

  const logLine = async (msg: string, match: (l: LogLine) => boolean): Promise<LogLine> => {
    for (let tries = 0; ; tries++) {
      const l = a.lines.find((x) => x.msg === msg && match(x));
      if (l !== undefined) return l;
      if (tries > 40) throw new Error(`bench: no '${msg}' log line\n${a.dump()}`);
      await sleep(50);
    }
  };

  const samples: Sample[] = [];
  for (let i = 1; i <= COMMITS; i++) {
    await sleep(200);
    base.push(await baselineRep(baseA, basePortA!, i, false));
    await sleep(200);
    graceful.push(await baselineRep(baseB, basePortB!, i, true));
    await w.until('Ready before the next commit', () => w.allReady([name], 1), 120_000);
    await sleep(Math.random() * 1000);
    const gen = w.latest.get(name)?.generation ?? 0;
    const oldID = w.latest.get(name)?.containerID;
    const sha = w0.repo
      .write({ [file]: deploymentYaml(name, agentPort, { REV: String(i) }) })
      .commit(`rev ${i}`);
    const t0 = performance.now();
    const wall0 = Date.now();
    const tReady = await w.until(
      `rev ${i} Ready`,
      () => {
        const e = w.latest.get(name);
        return e !== undefined && e.generation > gen && e.ready;
      },
      120_000,
    );
    const ofRev = (l: LogLine): boolean => field(l, 'revision').endsWith(sha);
    const detect = logTimeMs(await logLine('fetched new revision', ofRev)) - wall0;
    const applied = logTimeMs(await logLine('applied revision', ofRev)) - wall0;
    const removed = logTimeMs(await logLine('container stopped', (l) => l['containerID'] === oldID)) - wall0;
    const total = tReady - t0;
    samples.push({
      total,
      detect,
      apply: applied - detect,
      retire: removed - applied,
      start: total - removed,
    });
    console.error(
      `  commit ${i}: ${total.toFixed(0)} ms (detect ${detect} ms, stop ${removed - applied} ms, start ${(total - removed).toFixed(0)} ms)`,
    );
  }
  const m1 = await a.metrics();
  loads.push(loadavg()[0]!);
  w.stop();
  execFileSync('docker', ['rm', '-f', baseA, baseB], { stdio: 'ignore' });
  assertUncontaminated(a, w0.prefix);

  // Mean git operation durations over the phase, from orun_git_operation_duration_seconds.
  const opMean = (op: string): number => {
    const l = `operation="${op}"`;
    const d = (m: string): number =>
      metricValue(m1, `orun_git_operation_duration_seconds_${m}`, l) -
      metricValue(m0, `orun_git_operation_duration_seconds_${m}`, l);
    return d('count') > 0 ? (d('sum') / d('count')) * 1000 : 0;
  };
  const lsRemote = opMean('ls-remote');
  const fetchMs = opMean('fetch');
  const readMs = opMean('read');
  const pollWait = mean(samples.map((s) => s.detect)) - lsRemote - fetchMs;
  const probeFailures =
    metricValue(m1, 'orun_probe_failures_total', 'probe="readiness"') -
    metricValue(m0, 'orun_probe_failures_total', 'probe="readiness"');
  const probes =
    metricValue(m1, 'orun_probe_duration_seconds_count', 'probe="readiness"') -
    metricValue(m0, 'orun_probe_duration_seconds_count', 'probe="readiness"');

  const stats = (xs: number[]): [number, number, number] => {
    const s = [...xs].sort((x, y) => x - y);
    return [percentile(s, 50), percentile(s, 95), mean(s)];
  };
  const B = stats(base);
  const G = stats(graceful);
  const T = stats(samples.map((s) => s.total));
  const pick = (k: keyof Sample): [number, number, number] => stats(samples.map((s) => s[k]));
  const row = (label: string, v: [number, number, number], ratios = ''): string =>
    `| ${label} | ${fmt(v[0])} | ${fmt(v[1])} | ${fmt(v[2])} | ${ratios} |`;
  const ratios = (v: [number, number, number], b: [number, number, number]): string =>
    v.map((x, j) => `${fmt(x / b[j]!, 2)}×`).join(' / ');

  writeSection('agent-latency', [
    '### Agent commit-to-ready latency (`bench/agent-latency.ts`)',
    '',
    `${COMMITS} commits, each changing one Deployment's env (\`orun-test/busybox:1\`, busybox httpd, one host port,`,
    'readiness `localhost:80/health`), poll interval 1 s, a random 0–1 s pause before each push. Agent: from',
    '`git push` returning to a local-API watch event with Ready=True on the new generation. Baselines (same',
    'run, same image/env, own host ports, one rep of each before every commit), ending when a GET of the host port /health (every 20 ms) answers: `docker rm -f`',
    `old + \`docker run -d\` new (${COMMITS}×); and graceful \`docker stop\` + \`docker rm\` + \`docker run -d\` (${COMMITS}×), which is`,
    "what the agent does (SIGTERM, up to 10 s grace; the test image exits on SIGTERM). Components from the agent's log timestamps; poll wait =",
    'mean detect − mean (ls-remote + fetch) from `orun_git_operation_duration_seconds` (the revision is then read from Git objects: `read`).',
    machine(),
    '',
    '| ms | p50 | p95 | mean | ratio p50 / p95 / mean |',
    '|---|---:|---:|---:|---|',
    row('baseline A: `docker rm -f` + `docker run -d` + health', B, '1.00×'),
    row(
      `baseline B: \`docker stop\` + \`rm\` + \`run -d\` + health (${COMMITS}×)`,
      G,
      `${ratios(G, B)} vs A`,
    ),
    row('**agent: push → Ready**', T, `${ratios(T, B)} vs A; ${ratios(T, G)} vs B`),
    row(
      '↳ push → applied to the store (poll wait + git + decode)',
      stats(samples.map((x) => x.detect + x.apply)),
    ),
    row(
      '↳ applied → Ready (the manual steps, done by the agent)',
      stats(samples.map((x) => x.retire + x.start)),
      `${ratios(stats(samples.map((x) => x.retire + x.start)), G)} vs B`,
    ),
    row('↳ push → fetched (poll wait + git)', pick('detect')),
    row('↳ fetched → applied to the store (read from objects, decode, apply)', pick('apply')),
    row(
      '↳ applied → old container stopped (create the new one, stop the old: SIGTERM grace)',
      pick('retire'),
    ),
    row(
      '↳ stopped → Ready (start the new one while the old is removed, probe, status)',
      pick('start'),
      `${ratios(pick('start'), B)} vs A`,
    ),
    '',
    `Poll-interval component (mean): ${fmt(pollWait)} ms (expected ≈ 500 ms); per poll: ls-remote ${fmt(lsRemote)} ms, fetch ${fmt(fetchMs)} ms, read (ls-tree + cat-file, per call) ${fmt(readMs)} ms (means).`,
    `Readiness probes: ${probes} for ${COMMITS} new containers, ${probeFailures} failed (the first probe runs right after the start; a failure is retried after 0.1 s).`,
    `Load average ${loads.map((l) => fmt(l, 1)).join(' → ')} (start, end).`,
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
