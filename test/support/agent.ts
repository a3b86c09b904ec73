/**
 * Runs the built agent (`dist/orun.js start`) as a child process, collects its JSON log lines and
 * reads its objects over the local API socket; plus docker helpers scoped to one test's prefix.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';

const NODE = existsSync(resolve('node_modules/.bin/node'))
  ? resolve('node_modules/.bin/node')
  : process.execPath;

export interface AgentStartOptions {
  repo: string;
  node: string;
  dataDir: string;
  /** Default `1s`. */
  pollInterval?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /**
   * Run the Caddy ingress on these ports. Default: `--ingress none`, so agents in tests never
   * bind ports 80/443 or start a Caddy.
   */
  ingress?: AgentIngressOptions;
}

export interface AgentIngressOptions {
  httpPort: number;
  httpsPort: number;
  /** ACME directory (pebble's in tests). Default: the agent's default (Let's Encrypt). */
  acmeCA?: string;
  /** PEM file trusted for the ACME CA's own listener (pebble's `listenerCertFile`). */
  acmeCARoot?: string;
  /** Default: `caddy` from PATH. */
  caddyPath?: string;
}

function ingressArgs(i: AgentIngressOptions | undefined): string[] {
  if (i === undefined) return ['--ingress', 'none'];
  return [
    '--ingress',
    'caddy',
    '--http-port',
    String(i.httpPort),
    '--https-port',
    String(i.httpsPort),
    ...(i.acmeCA === undefined ? [] : ['--acme-ca', i.acmeCA]),
    ...(i.acmeCARoot === undefined ? [] : ['--acme-ca-root', i.acmeCARoot]),
    ...(i.caddyPath === undefined ? [] : ['--caddy-path', i.caddyPath]),
  ];
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export class AgentProcess {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly socket: string;
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #buf = '';

  constructor(o: AgentStartOptions) {
    this.socket = `${o.dataDir}/orun.sock`;
    const args = [
      resolve('dist/orun.js'),
      'start',
      '--repo',
      o.repo,
      '--node',
      o.node,
      '--data-dir',
      o.dataDir,
      '--poll-interval',
      o.pollInterval ?? '1s',
      '--metrics-address',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      ...ingressArgs(o.ingress),
      ...(o.extraArgs ?? []),
    ];
    this.proc = spawn(NODE, args, { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.#onData(chunk));
    this.proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((res) => this.proc.once('exit', (code, signal) => res({ code, signal })));
  }

  #onData(chunk: string): void {
    this.#buf += chunk;
    let i;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 1);
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.lines.push({ msg: line });
      }
    }
  }

  /** GET a local API path; undefined on 404 or when nothing answers yet. */
  async get<T = Record<string, unknown>>(path: string): Promise<T | undefined> {
    return new Promise((res) => {
      const req = http.get({ socketPath: this.socket, path, timeout: 5000 }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (c: string) => (body += c));
        r.on('end', () => res(r.statusCode === 200 ? (JSON.parse(body) as T) : undefined));
      });
      req.on('error', () => res(undefined));
      req.on('timeout', () => req.destroy());
    });
  }

  /**
   * A metric's value on the agent's /metrics (at the address its 'Serving health probes and
   * metrics' log line names): the sum of the samples of `name` that carry every label given, e.g.
   * `metric('orun_git_polls_total')`. Undefined before the agent serves, or when no sample matches.
   */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const served = this.lines.find((l) => l.msg === 'Serving health probes and metrics');
    const port = (served?.address as { port?: number } | undefined)?.port;
    if (port === undefined) return undefined;
    const text = await new Promise<string>((res, rej) => {
      http
        .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (r) => {
          let body = '';
          r.setEncoding('utf8').on('data', (c: string) => (body += c));
          r.on('end', () => res(body));
        })
        .on('error', rej);
    });
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const values = text
      .split('\n')
      .map((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l))
      .filter((m) => m !== null && m[1] === name && wanted.every((w) => (m[2] ?? '').includes(w)))
      .map((m) => Number(m?.[3]));
    return values.length === 0 ? undefined : values.reduce((a, v) => a + v, 0);
  }

  object(
    kind: 'nodes' | 'deployments' | 'services' | 'servicegraphs',
    name: string,
  ): Promise<ApiObjectView | undefined> {
    return this.get<ApiObjectView>(`/apis/run.orcra.dev/v0alpha/${kind}/${name}`);
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  /** Log lines as text, for failure messages. */
  dump(last = 60): string {
    return (
      this.lines
        .slice(-last)
        .map((l) => JSON.stringify(l))
        .join('\n') + (this.stderr ? `\nSTDERR:\n${this.stderr}` : '')
    );
  }
}

export interface ApiObjectView {
  metadata: { name: string; generation?: number };
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    containerID?: string;
    sourceErrors?: { file: string; line: number; col: number; path: string; message: string }[];
    revision?: string;
    [k: string]: unknown;
  };
}

export function condition(
  obj: ApiObjectView | undefined,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** Polls `fn` until it returns a truthy value; throws with `describe()` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  describe?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${describe ? `\n${describe()}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface ContainerFacts {
  id: string;
  name: string;
  /** The `run.orcra.dev/deployment` label (container names carry a node and spec-hash suffix). */
  deployment: string;
  running: boolean;
  startedAt: string;
  restartCount: number;
  env: string[];
}

/**
 * Every container (running or not) whose name starts with `orun-<prefix>`, on the machine's engine
 * or on the one at `dockerHost` (`unix://…`, e.g. a chaos test's private dockerd).
 */
export function containersWithPrefix(prefix: string, dockerHost?: string): ContainerFacts[] {
  const h = dockerHost === undefined ? [] : ['-H', dockerHost];
  const ids = execFileSync('docker', [...h, 'ps', '-aq', '--filter', `name=^/orun-${prefix}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  if (ids.length === 0) return [];
  // A container can go between `ps` and `inspect` (the agent is replacing it): inspect prints
  // what it found and exits 1, so read its stdout either way.
  const inspect = (): string => {
    try {
      return execFileSync('docker', [...h, 'inspect', ...ids], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (typeof out === 'string' && out.trim().startsWith('[')) return out;
      throw err;
    }
  };
  const info = JSON.parse(inspect()) as {
    Id: string;
    Name: string;
    RestartCount: number;
    State: { Running: boolean; StartedAt: string };
    Config: { Env: string[]; Labels: Record<string, string> | null };
  }[];
  return info
    .map((c) => ({
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      deployment: c.Config.Labels?.['run.orcra.dev/deployment'] ?? '',
      running: c.State.Running,
      startedAt: c.State.StartedAt,
      restartCount: c.RestartCount,
      env: c.Config.Env,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * The name of Deployment `deployment`'s container (`orun-<deployment>_<node>_<hash8>`), the
 * newest when a rollout has two; undefined when there is none. Deployment names are unique per test.
 */
export function containerNameOf(deployment: string): string | undefined {
  const out = execFileSync(
    'docker',
    ['ps', '-a', '--filter', `label=run.orcra.dev/deployment=${deployment}`, '--format', '{{.Names}}'],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean)[0];
}

/**
 * Removes this test's containers only, then its node networks (`orun-net-<node>`, node names
 * starting with the prefix): an agent removes its network only when it prunes its last container
 * (a test ends with its agent stopped first), and Docker runs out of address pools after a few
 * dozen leaked bridges.
 */
export function removeContainers(prefix: string): void {
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `name=^/orun-${prefix}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  const nets = execFileSync('docker', ['network', 'ls', '-q', '--filter', `name=^orun-net-${prefix}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  for (const n of nets) {
    try {
      execFileSync('docker', ['network', 'rm', n], { stdio: 'ignore' });
    } catch {
      // still in use by a container of another run: leave it
    }
  }
}

/**
 * Resolves once the agent has polled Git `n` more times (`orun_git_polls_total`): "nothing
 * happened" checks wait on the agent's own polls, never on a fixed sleep.
 */
export async function waitForPolls(agent: AgentProcess, n: number): Promise<void> {
  const polls = (await agent.metric('orun_git_polls_total')) ?? 0;
  await waitFor(
    `${n} more git polls`,
    async () => ((await agent.metric('orun_git_polls_total')) ?? 0) >= polls + n,
    30_000,
    () => agent.dump(),
  );
}

/** A unique, DNS-safe prefix for one test's deployment (and so container) names. */
export function uniquePrefix(tag: string): string {
  return `t${tag}${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** A Deployment manifest of the busybox test image with an HTTP readiness probe. */
export function deploymentYaml(name: string, env: Record<string, string> = {}): string {
  const envLines = Object.entries(env).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  image: orun-test/busybox:1',
    ...(envLines.length > 0 ? ['  env:', ...envLines] : []),
    '  health:',
    '    readiness:',
    '      http: localhost:80/health',
    '',
  ].join('\n');
}

export function nodeYaml(name: string, repo: string, labels: Record<string, string> = {}): string {
  const labelLines = Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`);
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Node',
    'metadata:',
    `  name: ${name}`,
    ...(labelLines.length > 0 ? ['  labels:', ...labelLines] : []),
    'spec:',
    '  host: 127.0.0.1',
    `  gitRepo: file://${repo}`,
    '  pollInterval: 1s',
    '',
  ].join('\n');
}
