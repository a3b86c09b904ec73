// Idle cost of `orun start` as the systemd unit runs it (its Environment= settings, the default poll
// interval: no --poll-interval flag, no pollInterval in the Node) with 50 Ready Deployments: CPU (% of one core) and
// RSS sampled every second for 60 s after convergence, from /proc/<pid>/stat (utime+stime) and
// /proc/<pid>/status (VmRSS). Baseline over the same window: an idle
// `node -e 'setInterval(()=>{},1000)'` with the same Node binary.
// Also counted over the window: status writes (watch events), git polls, log lines, container events.
// Run: node_modules/.bin/node bench/agent-idle.ts
import { spawn, type ChildProcess } from 'node:child_process';
import {
  Agent,
  DeploymentWatch,
  NODE_BIN,
  Workspace,
  assertUncontaminated,
  build,
  buildSea,
  clockTicks,
  connect,
  containerIds,
  deploymentYaml,
  describeEnv,
  fmt,
  freePorts,
  machine,
  mean,
  metricValue,
  nodeYaml,
  procSample,
  requireDockerAndImage,
  runBench,
  sleep,
  unitEnvironment,
  writeSection,
} from './support/agent-bench.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const N = 50;
const WINDOW_S = 60;
const SETTLE_MS = 5000;
/** The Node's pollInterval: by default none, so the agent's default (5 s) applies, as on a node. */
const POLL = process.env.IDLE_POLL_INTERVAL ?? null;
/** The unit's environment, plus IDLE_ENV ('K=V K=V': a candidate setting measured before it goes in the unit). */
const UNIT_ENV = { ...unitEnvironment(), ...extraEnv(process.env.IDLE_ENV) };
/** What runs: the single executable `orun bootstrap` installs (default), or IDLE_AGENT=js: node dist/orun.js. */
const AS_JS = process.env.IDLE_AGENT === 'js';
let seaDir: string | undefined;
const WARM = process.env.IDLE_SEA_CACHE === 'warm';

let ws: Workspace | undefined;
let agent: Agent | undefined;
let watch: DeploymentWatch | undefined;
let idle: ChildProcess | undefined;

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function extraEnv(text: string | undefined): Record<string, string> {
  const words = (text ?? '').split(' ').filter((w) => w.includes('='));
  return Object.fromEntries(words.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

/** Where the agent's RSS is at the end of the window: /proc/<pid>/status (KiB) and smaps_rollup. */
function memoryBreakdown(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  for (const k of ['RssAnon', 'RssFile', 'Threads'])
    out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  for (const k of ['Pss', 'Private_Clean', 'Private_Dirty'])
    out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? NaN);
  return out;
}

interface Series {
  cpu: number[];
  cpuWithChildren: number[];
  rssMiB: number[];
  childRssMiB: number[];
}

async function sample(pids: number[], seconds: number): Promise<Series[]> {
  const hz = clockTicks();
  const out: Series[] = pids.map(() => ({ cpu: [], cpuWithChildren: [], rssMiB: [], childRssMiB: [] }));
  let prev = pids.map((p) => procSample(p));
  let t = performance.now();
  for (let i = 0; i < seconds; i++) {
    await sleep(1000 - ((performance.now() - t) % 1000));
    const now = performance.now();
    const cur = pids.map((p) => procSample(p));
    const dt = (now - t) / 1000;
    cur.forEach((c, j) => {
      const p = prev[j]!;
      const s = out[j]!;
      s.cpu.push(((c.ticks - p.ticks) / hz / dt) * 100);
      s.cpuWithChildren.push(((c.ticks + c.childTicks - p.ticks - p.childTicks) / hz / dt) * 100);
      s.rssMiB.push(c.rssKiB / 1024);
      s.childRssMiB.push(c.childRssKiB / 1024);
    });
    prev = cur;
    t = now;
  }
  return out;
}

async function main(): Promise<void> {
  requireDockerAndImage();
  build();
  const sea = AS_JS ? undefined : buildSea((seaDir = mkdtempSync(join(tmpdir(), 'orun-bench-sea-'))));
  // A file just written is all in the page cache, and the kernel maps up to 16 cached neighbours of
  // each page a process touches (fault-around): the fresh executable idled at 13 MiB more RSS than
  // the same file started from a cold cache (after a reboot, as systemd starts it at boot).
  // IDLE_SEA_CACHE=warm keeps the file cached (right after `orun bootstrap` uploaded it).
  // The file is synced first: the kernel does not drop dirty pages, and without it 19 MiB of the
  // just-written executable stayed in the page cache (fincore), so some runs mapped more of it.
  if (sea !== undefined && !WARM) {
    execFileSync('sync', [sea]);
    execFileSync('dd', [`if=${sea}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  const w0 = (ws = new Workspace());
  const ports = await freePorts(N + 1);
  const metricsPort = ports.pop()!;
  const names = Array.from({ length: N }, (_, i) => `${w0.prefix}d${i}`);
  w0.repo
    .write({
      [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare, POLL),
      ...Object.fromEntries(
        names.map((n, i) => [`deployments/${n}.yaml`, deploymentYaml(n, ports[i], { INDEX: String(i) })]),
      ),
    })
    .commit(`${N} deployments`);

  console.error(`converging ${N} Deployments`);
  const a = (agent = new Agent({
    repo: w0.repo.bare,
    node: w0.node,
    dataDir: w0.dataDir,
    metricsPort,
    pollInterval: null,
    env: UNIT_ENV,
    ...(sea === undefined ? {} : { bin: sea }),
  }));
  const w = (watch = new DeploymentWatch(await connect(a)));
  await w.until(`all ${N} Ready`, () => w.allReady(names, 1), 300_000);
  // The burst before the idle window: start-up and converging 50 (what a start-up flag costs there).
  const burst = {
    cpuS: procSample(a.pid).ticks / clockTicks(),
    wallS: (performance.now() - a.startedAt) / 1000,
    peakMiB: Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${a.pid}/status`, 'utf8'))?.[1]) / 1024,
  };

  idle = spawn(NODE_BIN, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  await sleep(SETTLE_MS);
  console.error(`sampling for ${WINDOW_S} s`);
  const load0 = loadavg();
  const events0 = w.events.length;
  const lines0 = a.lines.length;
  const m0 = await a.metrics();
  const since = Math.floor(Date.now() / 1000);
  const [ag, base] = await sample([a.pid, idle.pid!], WINDOW_S);
  const until = Math.floor(Date.now() / 1000);
  const m1 = await a.metrics();
  const mem = memoryBreakdown(a.pid);
  const heapTotal = metricValue(m1, 'nodejs_heap_size_total_bytes') / 2 ** 20;
  const heapUsed = metricValue(m1, 'nodejs_heap_size_used_bytes') / 2 ** 20;
  const space = (name: string): string =>
    fmt(metricValue(m1, 'nodejs_heap_space_size_total_bytes', `space="${name}"`) / 2 ** 20, 1);
  const statusWrites = w.events.length - events0;
  const logLines = a.lines.length - lines0;
  const polls = metricValue(m1, 'orun_git_polls_total') - metricValue(m0, 'orun_git_polls_total');
  const actions = execFileSync(
    'docker',
    [
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      // `docker events` has no name filter (it ignored it and counted every engine event): the node label.
      '--filter',
      `label=run.orcra.dev/node=${w0.node}`,
      '--format',
      '{{.Type}} {{.Action}}',
    ],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
  const byAction = new Map<string, number>();
  for (const x of actions) byAction.set(x, (byAction.get(x) ?? 0) + 1);
  const containerEvents = `${actions.length}${
    actions.length > 0 ? ` (${[...byAction].map(([k, v]) => `${v}× ${k}`).join(', ')})` : ''
  }`;
  const running = containerIds(w0.prefix).length;
  const readyAtEnd = w.allReady(names, 1);
  assertUncontaminated(a, w0.prefix);
  if (!ag || !base) throw new Error('bench: no samples');

  const cpuA = mean(ag.cpu);
  const cpuAc = mean(ag.cpuWithChildren);
  const cpuB = mean(base.cpu);
  const rssA = mean(ag.rssMiB);
  const rssB = mean(base.rssMiB);
  const maxA = Math.max(...ag.rssMiB);
  const maxB = Math.max(...base.rssMiB);
  const peakA = Math.max(...ag.cpuWithChildren);
  const pct = (x: number): string => `${fmt(x, 2)} %`;
  const mib = (x: number): string => `${fmt(x, 1)} MiB`;
  writeSection('agent-idle', [
    '### Agent idle cost with 50 Deployments (`bench/agent-idle.ts`)',
    '',
    `\`orun start\` as the systemd unit runs it (${AS_JS ? '`node dist/orun.js`' : `the single executable, \`${'orun-linux-' + process.arch}\` as hack/dist.ts builds it, ${WARM ? 'all in the page cache (just written)' : 'started with none of it in the page cache (as after a reboot)'}`}; its environment: ${describeEnv(UNIT_ENV)}; poll interval ${POLL ?? 'the default, 5 s'}; log level info) with ${N} Ready Deployments of \`orun-test/busybox:1\``,
    `(readiness probes only, no liveness), sampled every second for ${WINDOW_S} s starting ${SETTLE_MS / 1000} s after all were`,
    'Ready: CPU from /proc/<pid>/stat (utime+stime; "+ git" adds cutime+cstime, the agent\'s reaped git',
    'children, and all CPU of its live children: the shell its git polls run in, and the git that shell reaped),',
    'RSS from /proc/<pid>/status VmRSS ("+ children" adds the live children\'s). Baseline over the same window:',
    "`node -e 'setInterval(()=>{},1000)'` (same Node binary).",
    machine(),
    `Load average before / after the window: ${load0} / ${loadavg()}.`,
    '',
    '| | CPU mean (% of one core) | CPU max 1 s | RSS mean | RSS max |',
    '|---|---:|---:|---:|---:|',
    `| baseline: idle \`node -e\` | ${pct(cpuB)} | ${pct(Math.max(...base.cpu))} | ${mib(rssB)} | ${mib(maxB)} |`,
    `| **agent** | ${pct(cpuA)} | ${pct(Math.max(...ag.cpu))} | ${mib(rssA)} | ${mib(maxA)} |`,
    `| agent + git children | ${pct(cpuAc)} | ${pct(peakA)} | ${mib(rssA + mean(ag.childRssMiB))} (+ children) | |`,
    `| ratio agent / baseline | ${cpuB > 0 ? `${fmt(cpuA / cpuB, 1)}×` : 'n/a (baseline 0)'} (+${pct(cpuA - cpuB)}) | | ${fmt(rssA / rssB, 2)}× | ${fmt(maxA / maxB, 2)}× |`,
    '',
    `At the end of the window: RSS ${mib(mem.RssAnon! / 1024)} anonymous + ${mib(mem.RssFile! / 1024)} file-backed (the executable's pages, shared with the page cache);`,
    `Pss ${mib(mem.Pss! / 1024)}, private dirty ${mib(mem.Private_Dirty! / 1024)}, private clean ${mib(mem.Private_Clean! / 1024)}; ${mem.Threads} threads.`,
    `V8 heap ${mib(heapTotal)} committed, ${mib(heapUsed)} used (spaces committed, MiB: new ${space('new')}, old ${space('old')}, code ${space('code')}, trusted ${space('trusted')}, large objects ${space('large_object')}).`,
    ...(process.env.ORUN_SEA_EXEC_ARGV === undefined || AS_JS
      ? []
      : [`The executable built with ORUN_SEA_EXEC_ARGV=\`${process.env.ORUN_SEA_EXEC_ARGV}\`.`]),
    '',
    `Start-up and converging the ${N} (before the window): ${fmt(burst.cpuS, 2)} s of the agent's CPU in ${fmt(burst.wallS, 1)} s, peak RSS ${mib(burst.peakMiB)}.`,
    '',
    `Over the window: ${fmt(polls)} git polls, ${statusWrites} status writes (watch events), ${logLines} log lines,`,
    `${containerEvents} docker events on our containers; ${running} containers, all Ready at the end: ${readyAtEnd}.`,
  ]);
}

runBench(
  main,
  async () => {
    watch?.stop();
    idle?.kill();
    await agent?.stop();
    ws?.cleanup();
    if (seaDir !== undefined) rmSync(seaDir, { recursive: true, force: true });
  },
  () => agent?.dump() ?? '',
);
