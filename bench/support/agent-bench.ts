/**
 * Shared plumbing of the agent benchmarks (bench/agent-*.ts): the built agent as a child process
 * (JSON log lines kept with their arrival time), a bare Git repo of busybox Deployments with host
 * ports, docker helpers scoped to one run's name prefix, /proc sampling, the machine description
 * and the BENCHMARKS.md section writer.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiClient } from '../../runtime/api/client.ts';
import { resourceByKind } from '../../runtime/api/resources.ts';
import { TestGitRepo } from '../../test/support/git-repo.ts';

export const IMAGE = 'orun-test/busybox:1';
export const NODE_BIN = process.execPath;
const ROOT = resolve(import.meta.dirname, '../..');

/** Builds dist/ (so the numbers are of the current tree). */
export function build(): void {
  execFileSync(NODE_BIN, ['hack/build.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  // The CLIs fill V8's compile cache on their first start (hack/build.ts); measure them as every
  // later start runs, not the one right after a build.
  for (const cli of ['orun', 'orunctl'])
    execFileSync(NODE_BIN, [join(ROOT, `dist/${cli}.js`), '--version'], { stdio: 'ignore' });
}

/**
 * The `Environment=` settings of the systemd unit `orun bootstrap` installs
 * (config/systemd/orun.service), so a bench runs the agent as a node does.
 */
export function unitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  const unit = readFileSync(join(ROOT, 'config/systemd/orun.service'), 'utf8');
  for (const line of unit.split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (m === null) continue;
    for (const word of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const kv = word.replace(/^"|"$/g, '');
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  return env;
}

/** `KEY=value …` of an environment, for a bench's description. */
export function describeEnv(env: Record<string, string>): string {
  const words = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return words.length === 0 ? 'none' : `\`${words.join(' ')}\``;
}

/**
 * Builds the single executable `orun bootstrap` installs (hack/dist.ts, this machine's
 * architecture, with its code cache) into `dir`; returns its path.
 */
export function buildSea(dir: string): string {
  execFileSync(NODE_BIN, ['hack/dist.ts'], {
    cwd: ROOT,
    env: { ...process.env, ORUN_DIST_DIR: dir, ORUN_DIST_ARCH: process.arch },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(dir, `orun-linux-${process.arch}`);
}

/** Fails early, with a clear message, when dockerd or the test image is missing. */
export function requireDockerAndImage(): void {
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`bench: needs dockerd and the image ${IMAGE} (run hack/images.sh)`, { cause: err });
  }
}

/** `bench-<random>-`: the Deployment names' prefix, so containers are `orun-bench-<random>-...`. */
export function benchPrefix(): string {
  return `bench-${Math.random().toString(36).slice(2, 7)}-`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `n` distinct TCP ports that are free now, picked at random below the kernel's ephemeral range
 * (ip_local_port_range), so that no other process's port-0 bind or outgoing connection takes one
 * while a container is being replaced.
 */
export async function freePorts(n: number): Promise<number[]> {
  const range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
  const top = Math.min(Number(range[0]) || 32768, 65536);
  const picked = new Set<number>();
  while (picked.size < n) {
    const port = 20_000 + Math.floor(Math.random() * (top - 20_000));
    if (picked.has(port)) continue;
    const free = await new Promise<boolean>((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(port, '0.0.0.0', () => s.close(() => res(true)));
    });
    if (free) picked.add(port);
  }
  return [...picked];
}

/**
 * A Deployment of the busybox test image: env, one host port (none when `hostPort` is undefined),
 * readiness on localhost:80/health.
 */
export function deploymentYaml(
  name: string,
  hostPort: number | undefined,
  env: Record<string, string>,
): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  image: ${IMAGE}`,
    ...(hostPort === undefined ? [] : ['  ports:', '    - containerPort: 80', `      port: ${hostPort}`]),
    '  env:',
    ...Object.entries(env).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    '  health:',
    '    readiness:',
    '      http: localhost:80/health',
    '',
  ].join('\n');
}

/** `pollInterval`: the Node's (default `1s`); `null` leaves it out, so the agent's default applies. */
export function nodeYaml(name: string, repo: string, pollInterval: string | null = '1s'): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Node',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  host: 127.0.0.1',
    `  gitRepo: file://${repo}`,
    ...(pollInterval === null ? [] : [`  pollInterval: ${pollInterval}`]),
    '',
  ].join('\n');
}

/** Container ids whose name starts with `orun-<prefix>` (running or not). */
export function containerIds(prefix: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `name=^/orun-${prefix}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** `docker rm -f` of this run's containers only. */
export function removeContainers(prefix: string): void {
  const ids = containerIds(prefix);
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
}

/** True when http://127.0.0.1:port/health answers 2xx within 1 s. */
export function healthOk(port: number): Promise<boolean> {
  return new Promise((res) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (r) => {
      r.resume();
      r.on('end', () => res((r.statusCode ?? 500) < 300));
    });
    req.on('error', () => res(false));
    req.on('timeout', () => req.destroy());
  });
}

/** Polls the host port's /health every `everyMs` until it answers; throws after `timeoutMs`. */
export async function waitHealthy(port: number, everyMs = 20, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await healthOk(port))) {
    if (Date.now() > deadline)
      throw new Error(`bench: port ${port} /health did not answer in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function dockerRunArgs(name: string, hostPort: number, env: Record<string, string>): string[] {
  return [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    `${hostPort}:80`,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    IMAGE,
  ];
}

/** `docker run -d` of the same container the agent would create (the manual baseline). */
export function dockerRun(name: string, hostPort: number, env: Record<string, string>): void {
  execFileSync('docker', dockerRunArgs(name, hostPort, env), { stdio: 'ignore' });
}

/** The same `docker run -d`, as a promise (for runs with several in flight). */
export function dockerRunAsync(name: string, hostPort: number, env: Record<string, string>): Promise<void> {
  return new Promise((res, rej) => {
    execFile('docker', dockerRunArgs(name, hostPort, env), (err) =>
      err === null ? res() : rej(new Error(`docker run ${name}: ${err.message}`)),
    );
  });
}

export type LogLine = Record<string, unknown> & { msg?: string; time?: unknown; arrived: number };

/** The built agent (`dist/orun.js start`) as a child process; log lines kept with arrival time. */
export class Agent {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly socket: string;
  readonly metricsAddress: string;
  readonly startedAt: number;
  stderr = '';
  readonly exited: Promise<void>;
  #buf = '';

  constructor(o: {
    repo: string;
    node: string;
    dataDir: string;
    metricsPort: number;
    logLevel?: string;
    /** Replaces the default `--ingress none`, e.g. `['--http-port', '8080', ...]` for Caddy. */
    ingressArgs?: string[];
    /** Default `1s`; `null`: no `--poll-interval` flag (the Node's, or the agent's default). */
    pollInterval?: string | null;
    /** The single executable to run instead of `node dist/orun.js`. */
    bin?: string;
    /** Environment added to the agent's (e.g. the systemd unit's `Environment=` settings). */
    env?: Record<string, string>;
    /** More `orun start` flags (e.g. the webhook receiver's). Default: none. */
    extraArgs?: string[];
  }) {
    this.socket = join(o.dataDir, 'orun.sock');
    this.metricsAddress = `127.0.0.1:${o.metricsPort}`;
    this.startedAt = performance.now();
    // o.bin: a single executable (dist/orun-linux-<arch>) run as is, as systemd runs it.
    const bin = o.bin ?? NODE_BIN;
    this.proc = spawn(
      bin,
      [
        ...(o.bin !== undefined
          ? []
          : [
              // e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the agent
              ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
              // e.g. BENCH_ORUN_JS=/tmp/base/dist/orun.js to measure another build (a before/after pair)
              process.env.BENCH_ORUN_JS ?? join(ROOT, 'dist/orun.js'),
            ]),
        'start',
        '--repo',
        o.repo,
        '--node',
        o.node,
        '--data-dir',
        o.dataDir,
        ...(o.pollInterval === null ? [] : ['--poll-interval', o.pollInterval ?? '1s']),
        '--metrics-address',
        this.metricsAddress,
        '--socket',
        this.socket,
        '--log-level',
        o.logLevel ?? 'info',
        // The agent's own cost: no Caddy (and no bind of :80/:443 beside other runs).
        ...(o.ingressArgs ?? ['--ingress', 'none']),
        ...(o.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
    );
    this.proc.stdout?.setEncoding('utf8').on('data', (c: string) => this.#onData(c));
    this.proc.stderr?.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((res) => this.proc.once('exit', () => res()));
  }

  #onData(chunk: string): void {
    const arrived = performance.now();
    this.#buf += chunk;
    let i;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 1);
      try {
        this.lines.push({ ...(JSON.parse(line) as Record<string, unknown>), arrived });
      } catch {
        this.lines.push({ msg: line, arrived });
      }
    }
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error('bench: agent did not start');
    return this.proc.pid;
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The Prometheus text of /metrics. */
  async metrics(): Promise<string> {
    const res = await fetch(`http://${this.metricsAddress}/metrics`);
    return res.text();
  }

  /** SIGTERM, then SIGKILL after 10 s. Containers stay (by design); remove them by prefix after. */
  async stop(): Promise<void> {
    if (!this.alive()) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }

  /** The last log lines, for failure messages. */
  dump(last = 40): string {
    return (
      this.lines
        .slice(-last)
        .map(({ arrived: _a, ...l }) => JSON.stringify(l))
        .join('\n') + (this.stderr ? `\nSTDERR:\n${this.stderr}` : '')
    );
  }
}

/** Sum of a Prometheus metric's samples matching `labels` (e.g. `operation="fetch"`). */
export function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** One temp dir per run: a bare repo + work tree, the agent's data dir; removed by `cleanup`. */
export class Workspace {
  readonly repo: TestGitRepo;
  readonly dataDir: string;
  readonly prefix: string;
  readonly node: string;

  constructor() {
    this.prefix = benchPrefix();
    this.node = `${this.prefix}node`;
    this.repo = new TestGitRepo('orun-bench-repo-');
    this.dataDir = mkdtempSync(join(tmpdir(), 'orun-bench-data-'));
  }

  /** Removes this run's containers, repo and data dir. Never throws. */
  cleanup(): void {
    for (const step of [
      () => removeContainers(this.prefix),
      // The agent's node-wide network (orun-net-<node>); a shared engine has only ~30 address pools.
      () => {
        try {
          execFileSync('docker', ['network', 'rm', `orun-net-${this.node}`], { stdio: 'ignore' });
        } catch {
          // none (no agent ran, or it never created one)
        }
      },
      () => this.repo.cleanup(),
      () => rmSync(this.dataDir, { recursive: true, force: true }),
    ]) {
      try {
        step();
      } catch (err) {
        console.error(`bench: cleanup: ${String(err)}`);
      }
    }
  }
}

/**
 * CPU ticks of a process from /proc/<pid>/stat (utime+stime; `childTicks` adds cutime+cstime of
 * its waited-for children, e.g. the agent's git commands, plus everything its live children used,
 * e.g. the shell its git polls run in) and VmRSS (KiB) from /proc/<pid>/status; `childRssKiB` is
 * the VmRSS of its live children.
 */
export function procSample(pid: number): {
  ticks: number;
  childTicks: number;
  rssKiB: number;
  childRssKiB: number;
} {
  const stat = (p: number) => {
    const text = readFileSync(`/proc/${p}/stat`, 'utf8');
    // Fields after `(comm) `: state is field 3, so utime/stime/cutime/cstime (14–17) are at 11–14.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  };
  const rss = (p: number) =>
    Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN);
  const self = stat(pid);
  let childTicks = self.reaped;
  let childRssKiB = 0;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // no children file on this kernel: reaped children only
  }
  for (const c of children) {
    try {
      const s = stat(c);
      childTicks += s.own + s.reaped;
      childRssKiB += rss(c);
    } catch {
      // exited meanwhile; its ticks arrive as reaped ones
    }
  }
  return { ticks: self.own, childTicks, rssKiB: rss(pid), childRssKiB };
}

/** Clock ticks per second (`getconf CLK_TCK`). */
/** CPU (user + system, clock ticks) of this process's reaped children so far. */
export function reapedTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

export function clockTicks(): number {
  return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** nproc, CPU, memory, kernel, Docker and Node versions, date. */
export function machine(): string {
  const docker = (() => {
    try {
      return execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const mem = (totalmem() / 2 ** 30).toFixed(1);
  return `Machine: nproc ${nproc} (${cpu}), ${mem} GiB RAM, kernel ${kernel}, Docker ${docker}, Node ${process.version}; ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
}

/** Replaces (or appends) the `<!-- bench:name -->` section of BENCHMARKS.md; prints it too. */
export function writeSection(name: string, lines: readonly string[]): void {
  const section = [`<!-- bench:${name} -->`, ...lines, `<!-- /bench:${name} -->`].join('\n');
  console.log(section);
  const file = join(ROOT, 'BENCHMARKS.md');
  const md = readFileSync(file, 'utf8');
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  writeFileSync(file, re.test(md) ? md.replace(re, () => section) : `${md.trimEnd()}\n\n${section}\n`);
}

export const fmt = (n: number, d = 0): string =>
  n.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d });

/** Runs `main`, always running `cleanup` (also on SIGINT/SIGTERM), and sets the exit code. */
export function runBench(
  main: () => Promise<void>,
  cleanup: () => Promise<void>,
  describe?: () => string,
): void {
  let cleaned = false;
  const clean = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    try {
      await cleanup();
    } catch (err) {
      console.error(`bench: cleanup failed: ${String(err)}`);
    }
  };
  const onSignal = (): void => {
    void clean().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  void main()
    .catch((err: unknown) => {
      console.error(err);
      if (describe !== undefined) console.error(describe());
      process.exitCode = 1;
    })
    .finally(() => clean());
}

/** One watch event on a Deployment, as the benchmarks see it. */
export interface SeenEvent {
  at: number;
  type: string;
  name: string;
  generation: number;
  observedGeneration: number | undefined;
  /** Ready=True for the current generation. */
  ready: boolean;
  reason: string | undefined;
  resourceVersion: string | undefined;
  containerID: string | undefined;
}

/** A watch on every Deployment of the agent, recording each event with its arrival time. */
export class DeploymentWatch {
  readonly events: SeenEvent[] = [];
  /** The latest event per Deployment name. */
  readonly latest = new Map<string, SeenEvent>();
  readonly done: Promise<void>;
  #abort = new AbortController();
  #waiters: { pred: () => boolean; res: (at: number) => void }[] = [];

  constructor(client: ApiClient) {
    const deployments = resourceByKind('Deployment');
    this.done = (async () => {
      try {
        for await (const ev of client.watch(deployments, { signal: this.#abort.signal })) {
          const o = ev.object;
          const gen = o.metadata.generation ?? 0;
          const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
          const seen: SeenEvent = {
            at: performance.now(),
            type: ev.type,
            name: o.metadata.name,
            generation: gen,
            observedGeneration: o.status?.observedGeneration,
            ready: ready?.status === 'True' && o.status?.observedGeneration === gen,
            reason: ready?.reason,
            resourceVersion: o.metadata.resourceVersion,
            containerID: (o.status as { containerID?: string } | undefined)?.containerID,
          };
          this.events.push(seen);
          this.latest.set(seen.name, seen);
          for (const w of this.#waiters.splice(0)) {
            if (w.pred()) w.res(seen.at);
            else this.#waiters.push(w);
          }
        }
      } catch (err) {
        if (!this.#abort.signal.aborted) throw err;
      }
    })();
    this.done.catch(() => undefined);
  }

  /** Resolves (with the time it became true) once `pred` holds; rejects after `timeoutMs`. */
  async until(what: string, pred: () => boolean, timeoutMs: number): Promise<number> {
    if (pred()) return performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<number>((res) => this.#waiters.push({ pred, res })),
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`bench: timed out after ${timeoutMs} ms: ${what}`)),
            timeoutMs,
          );
        }),
        this.done.then(() => {
          throw new Error(`bench: the watch ended while waiting for ${what}`);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every name in `names` Ready on a generation ≥ `minGeneration`. */
  allReady(names: readonly string[], minGeneration = 1): boolean {
    return names.every((n) => {
      const e = this.latest.get(n);
      return e !== undefined && e.ready && e.generation >= minGeneration;
    });
  }

  stop(): void {
    this.#abort.abort();
  }
}

/** Waits until the agent's local API answers on its socket. */
export async function connect(agent: Agent, timeoutMs = 30_000): Promise<ApiClient> {
  const client = new ApiClient({ socketPath: agent.socket });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.version();
      return client;
    } catch (err) {
      if (!agent.alive()) throw new Error(`bench: the agent exited\n${agent.dump()}`, { cause: err });
      if (Date.now() > deadline)
        throw new Error(`bench: the agent's API did not answer in ${timeoutMs} ms\n${agent.dump()}`, {
          cause: err,
        });
      await sleep(25);
    }
  }
}

/**
 * Throws when our agent pruned a container not ours (agents scope containers by the
 * `run.orcra.dev/node` label, so this is a safety check on a dockerd shared with other runs).
 */
export function assertUncontaminated(agent: Agent, prefix: string): void {
  const pruned = agent.lines
    .map((l) => (l.msg === 'pruned container' ? field(l, 'name') : prefix))
    .filter((n) => !n.startsWith(prefix));
  if (pruned.length > 0)
    throw new Error(
      `bench: run invalid: another orun run shared this dockerd and our agent pruned its containers [${pruned.join(', ')}]; rerun when it is quiet`,
    );
}

/** A log line's `time` (pino ISO string or epoch ms) as epoch ms. */
export function logTimeMs(l: LogLine): number {
  return typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
}

/** A string field of a log line, or ''. */
export function field(l: LogLine, key: string): string {
  const v = l[key];
  return typeof v === 'string' ? v : '';
}

/** An Orchfile of `n` busybox services in a REQUIRES chain (what the start-up benches validate). */
export function chainOrchfile(n: number): string {
  return Array.from({ length: n }, (_, i) =>
    [
      `SERVICE s${i}`,
      'FROM orun-test/busybox:1',
      `PUBLISH ${20000 + i}:80`,
      `ENV N=${i}`,
      i > 0 ? `REQUIRES s${i - 1}` : '',
      '',
    ].join('\n'),
  ).join('\n');
}
