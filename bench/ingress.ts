// Requests through the agent's Caddy ingress against the same container hit directly, on
// loopback: `orun start --ingress caddy` (free HTTP/HTTPS ports) with one Deployment of
// orun-test/nginx:1 (host port, readiness /health) and a Service `<prefix>.localhost` (no TLS).
//
// 1. Saturation: wrk (C, one thread, INGRESS_CONNECTIONS keep-alive connections, default 16, for
//    INGRESS_SECONDS, default 5) against three paths, rotated each round (INGRESS_ROUNDS, default
//    5; medians): the container's IP on the node network (the baseline: nothing between), its
//    host port (through docker-proxy, Docker's userland proxy) and Caddy with the Host header
//    (Caddy dials the container's IP, as orun configures it). Caddy's and nginx's CPU time per
//    request come from /proc/<pid>/stat around each run.
// 2. Fixed rate: INGRESS_RATE requests/s (default 1,000; open loop, latency from when each request
//    was due) for INGRESS_PACED_SECONDS (default 5) direct to the container's IP and through Caddy,
//    alternating: what the hop adds to a request when nothing queues.
//
// Unless INGRESS_PIN=0, the load generators run on CPU 1 (wrk with taskset; this process pins
// itself) and the server side (Caddy's threads, nginx's processes, docker-proxy) on CPU 0, so the
// client never takes the servers' core. Needs wrk (hack/install-deps.sh installs it).
// Run: node_modules/.bin/node bench/ingress.ts
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { paced, type LoadResult } from './support/load.ts';
import { requireWrk, wrk, type WrkResult } from './support/wrk.ts';
import {
  Agent,
  Workspace,
  build,
  connect,
  containerIds,
  fmt,
  freePorts,
  machine,
  nodeYaml,
  runBench,
  sleep,
  writeSection,
} from './support/agent-bench.ts';

const CONNECTIONS = Number(process.env.INGRESS_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.INGRESS_SECONDS ?? 5);
const ROUNDS = Number(process.env.INGRESS_ROUNDS ?? 5);
const RATE = Number(process.env.INGRESS_RATE ?? 1000);
const PACED_SECONDS = Number(process.env.INGRESS_PACED_SECONDS ?? 5);
const PIN = process.env.INGRESS_PIN !== '0';
const IMAGE = 'orun-test/nginx:1';

let ws: Workspace | undefined;
let agent: Agent | undefined;

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`bench: timed out: ${what}\n${agent?.dump() ?? ''}`);
    await sleep(200);
  }
}

async function main(): Promise<void> {
  requireWrk();
  build();
  const w0 = (ws = new Workspace());
  const [hostPort, httpPort, httpsPort, metricsPort] = await freePorts(4);
  const name = `${w0.prefix}web`;
  const domain = `${w0.prefix.replace(/-$/, '')}.localhost`;
  w0.repo
    .write({
      [`nodes/${w0.node}.yaml`]: nodeYaml(w0.node, w0.repo.bare),
      [`deployments/${name}.yaml`]: [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Deployment',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        `  image: ${IMAGE}`,
        '  ports:',
        '    - containerPort: 80',
        `      port: ${hostPort}`,
        '  health:',
        '    readiness:',
        '      http: localhost:80/health',
        '',
      ].join('\n'),
      [`services/${name}.yaml`]: [
        'apiVersion: run.orcra.dev/v0alpha',
        'kind: Service',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        `  deployment: ${name}`,
        '  ingress:',
        '    domain:',
        `      default: ${domain}`,
        '    ssl: false',
        '',
      ].join('\n'),
    })
    .commit('ingress bench');
  const a = (agent = new Agent({
    repo: w0.repo.bare,
    node: w0.node,
    dataDir: w0.dataDir,
    metricsPort: metricsPort!,
    logLevel: 'warn',
    ingressArgs: ['--ingress', 'caddy', '--http-port', String(httpPort), '--https-port', String(httpsPort)],
  }));
  await connect(a);
  const up = async (port: number, host?: string) =>
    (
      await paced({
        port,
        ...(host === undefined ? {} : { host }),
        connections: 1,
        rate: 20,
        durationMs: 100,
      })
    ).requests > 0;
  await until('the container answers on its host port', () => up(hostPort!));
  await until('the ingress answers', () => up(httpPort!, domain));

  // The processes on the path, for CPU time per request and for pinning.
  const [id] = containerIds(w0.prefix);
  if (id === undefined) throw new Error(`bench: no container for ${name}`);
  const ip = execFileSync(
    'docker',
    ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', id],
    {
      encoding: 'utf8',
    },
  )
    .trim()
    .split(' ')[0]!;
  const nginx = execFileSync('docker', ['top', id, '-eo', 'pid'], { encoding: 'utf8' })
    .split('\n')
    .slice(1)
    .map(Number)
    .filter((n) => n > 0);
  const caddy = pidsWhere(
    (cmd) => cmd[0]?.endsWith('caddy') === true && cmd.includes(`${w0.dataDir}/caddy/bootstrap.json`),
  );
  const proxy = pidsWhere(
    (cmd) => cmd[0]?.endsWith('docker-proxy') === true && cmd.includes(String(hostPort)),
  );
  if (caddy.length !== 1)
    throw new Error(`bench: expected one caddy for ${w0.dataDir}, found ${caddy.length}`);
  const described = machine(); // before pinning: nproc counts the CPUs this process may use
  if (PIN) {
    for (const pid of [...caddy, ...nginx, ...proxy])
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  }

  const paths = {
    ip: { url: `http://${ip}:80/`, label: `baseline: the container directly (its IP, ${ip}:80)` },
    hostPort: { url: `http://127.0.0.1:${hostPort}/`, label: 'the container’s host port (docker-proxy)' },
    caddy: { url: `http://127.0.0.1:${httpPort}/`, host: domain, label: '**through the agent’s Caddy**' },
  } as const;
  type PathName = keyof typeof paths;
  interface Run extends WrkResult {
    caddyUsPerReq: number;
    nginxUsPerReq: number;
    load: number;
  }
  const run = async (p: PathName, seconds: number): Promise<Run> => {
    const c0 = cpuTicks(caddy);
    const n0 = cpuTicks(nginx);
    const r = await wrk({ ...paths[p], connections: CONNECTIONS, seconds, ...(PIN ? { cpus: '1' } : {}) });
    const perReq = (ticks: number) => (ticks * 1e6) / TICKS_PER_SECOND / Math.max(1, r.requests);
    return {
      ...r,
      caddyUsPerReq: perReq(cpuTicks(caddy) - c0),
      nginxUsPerReq: perReq(cpuTicks(nginx) - n0),
      load: loadAverage(),
    };
  };
  // Warm every path (Caddy's upstream connections, nginx's workers).
  for (const p of Object.keys(paths) as PathName[]) await run(p, 1);

  const startedAt = new Date();
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
  const runs: Record<PathName, Run[]> = { ip: [], hostPort: [], caddy: [] };
  const order: PathName[] = ['ip', 'caddy', 'hostPort'];
  for (let r = 0; r < ROUNDS; r++)
    for (let k = 0; k < order.length; k++) {
      const p = order[(k + r) % order.length]!;
      runs[p].push(await run(p, SECONDS));
    }

  // Fixed rate, alternating; the Node client (this process) sends.
  const fixed: Record<'ip' | 'caddy', LoadResult[]> = { ip: [], caddy: [] };
  for (let r = 0; r < ROUNDS; r++)
    for (const p of r % 2 === 0 ? (['ip', 'caddy'] as const) : (['caddy', 'ip'] as const)) {
      const u = new URL(paths[p].url);
      fixed[p].push(
        await paced({
          port: Number(u.port),
          ...(p === 'ip' ? { address: u.hostname } : { host: domain }),
          connections: CONNECTIONS,
          rate: RATE,
          durationMs: PACED_SECONDS * 1000,
        }),
      );
    }
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');

  const med = <T>(xs: readonly T[], f: (x: T) => number): number =>
    xs.map(f).sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const errors =
    Object.values(runs)
      .flat()
      .reduce((n, x) => n + x.errors, 0) +
    Object.values(fixed)
      .flat()
      .reduce((n, x) => n + x.errors, 0);
  const base = runs.ip;
  const allRuns = Object.values(runs).flat();
  const row = (p: PathName): string => {
    const xs = runs[p];
    const rps = med(xs, (x) => x.rps);
    const ratio =
      p === 'ip'
        ? '1.00×'
        : `${fmt(rps / med(base, (x) => x.rps), 2)}×; p99 ${signed(med(xs, (x) => x.p99Ms) - med(base, (x) => x.p99Ms))}`;
    const caddyCpu =
      p === 'caddy'
        ? `${fmt(
            med(xs, (x) => x.caddyUsPerReq),
            1,
          )} µs`
        : '–';
    return `| ${paths[p].label} | ${fmt(rps)} | ${fmt(
      med(xs, (x) => x.p50Ms),
      2,
    )} ms | ${fmt(
      med(xs, (x) => x.p99Ms),
      2,
    )} ms | ${ratio} | ${caddyCpu} | ${fmt(
      med(xs, (x) => x.nginxUsPerReq),
      1,
    )} µs |`;
  };
  const fixedRow = (p: 'ip' | 'caddy'): string => {
    const xs = fixed[p];
    const p99 = med(xs, (x) => x.p99Ms);
    const above = p === 'ip' ? '–' : signed(p99 - med(fixed.ip, (x) => x.p99Ms));
    return `| ${paths[p].label} | ${fmt(med(xs, (x) => x.rps))} | ${fmt(
      med(xs, (x) => x.p50Ms),
      2,
    )} ms | ${fmt(p99, 2)} ms | ${above} |`;
  };
  const caddyCpu = med(runs.caddy, (x) => x.caddyUsPerReq);
  const nginxDirect = med(base, (x) => x.nginxUsPerReq);
  const nginxProxied = med(runs.caddy, (x) => x.nginxUsPerReq);
  writeSection('ingress', [
    '### Requests through the ingress (`bench/ingress.ts`)',
    '',
    `One Deployment of \`${IMAGE}\` (nginx serving a 20-byte index.html, access log to Docker's log; host port, readiness /health)`,
    'and a Service `<prefix>.localhost` (HTTP) on `orun start --ingress caddy` (Caddy 2.6.2, supervised by the agent, upstream',
    'by name through the agent’s DNS), all on loopback.',
    `Saturation: wrk (one thread, ${CONNECTIONS} keep-alive connections, GET / back to back, ${SECONDS} s a run), the three paths rotated,`,
    `${ROUNDS} rounds, medians; CPU per request from /proc/<pid>/stat around each run (all of Caddy's threads; nginx's master and workers).`,
    `Fixed rate: ${fmt(RATE)} requests/s, open loop (latency counted from when each request was due), ${PACED_SECONDS} s a run, alternating, ${ROUNDS} rounds, medians.`,
    PIN
      ? 'Pinned: wrk and this process (the fixed-rate client) on CPU 1; Caddy, nginx and docker-proxy on CPU 0 (`taskset`); dockerd, the agent and everything else unpinned.'
      : 'Not pinned (INGRESS_PIN=0): client and servers share both CPUs.',
    `${errors} non-200 answers or socket errors. Started ${startedAt.toISOString().slice(11, 16)} UTC; load average ${load0} at the start, ${load1} at the end`,
    `(1-minute load during the wrk runs: ${fmt(Math.min(...allRuns.map((x) => x.load)), 1)}–${fmt(Math.max(...allRuns.map((x) => x.load)), 1)}).`,
    described,
    '',
    '| saturation (wrk) | req/s | p50 | p99 | ratio | Caddy CPU/req | nginx CPU/req |',
    '|---|---:|---:|---:|---|---:|---:|',
    row('ip'),
    row('hostPort'),
    row('caddy'),
    '',
    `| fixed ${fmt(RATE)} req/s | req/s | p50 | p99 | p99 vs the baseline |`,
    '|---|---:|---:|---:|---:|',
    fixedRow('ip'),
    fixedRow('caddy'),
    '',
    `What one request costs the server side at saturation: nginx ${fmt(nginxDirect, 1)} µs of CPU direct, ${fmt(nginxProxied, 1)} µs`,
    `behind Caddy, and Caddy ${fmt(caddyCpu, 1)} µs. The proxied path needs about ${fmt((caddyCpu + nginxProxied) / nginxDirect, 1)}× the`,
    'server CPU of the direct one, so on a shared CPU its req/s cannot come near the direct path’s whatever Caddy is told.',
  ]);
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** `+1.23 ms` / `−1.23 ms`. */
function signed(ms: number): string {
  return `${ms < 0 ? '−' : '+'}${fmt(Math.abs(ms), 2)} ms`;
}

/** utime + stime of `pids` (all threads), in clock ticks; a pid that exited counts 0. */
function cpuTicks(pids: readonly number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      t += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return t;
}

/** Pids whose argv matches. */
function pidsWhere(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (match(argv)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

runBench(
  main,
  async () => {
    await agent?.stop();
    ws?.cleanup();
  },
  () => agent?.dump() ?? '',
);
