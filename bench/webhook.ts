/**
 * Webhook vs polling, same run, same agent: time from the push (commit on the remote) to the new
 * container Ready, (a) with a GitHub-signed webhook sent right after the push, (b) with no webhook,
 * waiting for the 5 s poll. BENCH_ROUNDS rounds each (default 3). Writes BENCHMARKS.md.
 */
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '../runtime/webhook/index.ts';
import {
  Agent,
  build,
  deploymentYaml,
  fmt,
  freePorts,
  machine,
  mean,
  nodeYaml,
  requireDockerAndImage,
  runBench,
  sleep,
  waitHealthy,
  Workspace,
  writeSection,
} from './support/agent-bench.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ws = new Workspace();
let agent: Agent | undefined;

function hook(port: number, n: number): Promise<number> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: String(n) });
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/hook/github',
        method: 'POST',
        agent: false,
        headers: {
          'x-github-event': 'push',
          'x-github-delivery': `b${n}`,
          'x-hub-signature-256': sign('github', body, 'bench'),
        },
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

/** Commits V=n and waits until the container answers with it on its host port. */
async function round(hostPort: number, n: number, hookPort: number | undefined): Promise<number> {
  const name = `${ws.prefix}web`;
  ws.repo.write({ [`deployments/${name}.yaml`]: deploymentYaml(name, hostPort, { V: String(n) }) });
  const t0 = performance.now();
  ws.repo.commit(`V=${n}`);
  if (hookPort !== undefined) await hook(hookPort, n);
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      request({ host: '127.0.0.1', port: hostPort, path: '/health', agent: false }, (r) => {
        r.resume();
        res(r.statusCode === 200);
      })
        .on('error', () => res(false))
        .end();
    });
    const obj = ok ? await agent?.metrics().then(() => true) : false;
    if (obj === true && (await running(name, n))) return performance.now() - t0;
    await sleep(20);
  }
}

async function running(name: string, n: number): Promise<boolean> {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(
    'docker',
    ['ps', '--filter', `label=run.orcra.dev/deployment=${name}`, '--format', '{{.ID}}'],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
  for (const id of out) {
    const env = execFileSync('docker', ['inspect', '-f', '{{json .Config.Env}}', id], { encoding: 'utf8' });
    if (env.includes(`"V=${n}"`)) return true;
  }
  return false;
}

runBench(
  async () => {
    requireDockerAndImage();
    build();
    const [hostPort, metricsPort, hookPort] = (await freePorts(3)) as [number, number, number];
    const secret = join(ws.dataDir, 'hook.secret');
    writeFileSync(secret, 'bench\n');
    const name = `${ws.prefix}web`;
    ws.repo
      .write({
        [`nodes/${ws.node}.yaml`]: nodeYaml(ws.node, ws.repo.bare).replace(
          'pollInterval: 1s',
          'pollInterval: 5s',
        ),
        [`deployments/${name}.yaml`]: deploymentYaml(name, hostPort, { V: '0' }),
      })
      .commit('V=0');
    agent = new Agent({
      repo: ws.repo.bare,
      node: ws.node,
      dataDir: ws.dataDir,
      metricsPort,
      pollInterval: '5s',
      extraArgs: ['--webhook-address', `127.0.0.1:${hookPort}`, '--webhook-secret-file', secret],
    });
    await waitHealthy(hostPort, 50, 120_000);
    const webhook: number[] = [];
    const polling: number[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      webhook.push(await round(hostPort, 2 * i - 1, hookPort));
      polling.push(await round(hostPort, 2 * i, undefined));
    }
    writeSection('webhook', [
      '## Webhook vs polling: push to Ready (bench/webhook.ts)',
      '',
      machine(),
      '',
      `One agent (poll interval 5 s, webhook receiver on), one busybox Deployment with a host port; ${ROUNDS} rounds each, alternating. Time from the push to the new container running and answering /health.`,
      '',
      '| path | mean | min | max |',
      '|---|---|---|---|',
      `| webhook (GitHub-signed POST right after the push) | ${fmt(mean(webhook))} ms | ${fmt(Math.min(...webhook))} ms | ${fmt(Math.max(...webhook))} ms |`,
      `| polling only (baseline, 5 s interval) | ${fmt(mean(polling))} ms | ${fmt(Math.min(...polling))} ms | ${fmt(Math.max(...polling))} ms |`,
      '',
      `Ratio webhook/polling: ${fmt(mean(webhook) / mean(polling), 2)}.`,
    ]);
  },
  async () => {
    await agent?.stop();
    ws.cleanup();
  },
  () => agent?.dump() ?? '',
);
