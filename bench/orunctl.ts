// `orunctl get deploy` on 50 Deployments as a whole process (dist/orunctl.js: node startup,
// bundle load, one request over the unix socket to a real agent, the table), against
// `node -e ''` startup in the same run, plus `orunctl --help` to split load time from the
// request. Runs alternate so drift hits all alike; N=20 after 2 warm-ups.
//
// The agent is the real one (dist/orun.js start) on a bare Git repo with 50 busybox Deployments
// (host port, env, readiness probe); the runs start once all 50 are Ready. Containers are named
// `orun-bench-<random>-*` and removed at the end.
// Run: node_modules/.bin/node bench/orunctl.ts
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  Agent,
  Workspace,
  build,
  deploymentYaml,
  fmt,
  freePorts,
  machine,
  nodeYaml,
  percentile,
  requireDockerAndImage,
  runBench,
  sleep,
  writeSection,
} from './support/agent-bench.ts';

const N = 20;
const WARMUP = 2;
const DEPLOYMENTS = 50;
const NODE = process.execPath;
const ORUNCTL = join(import.meta.dirname, '../dist/orunctl.js');

/** Runs `node args...` to exit; its wall time and stdout. */
function timed(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(NODE, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', rej);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) res({ ms, stdout });
      else rej(new Error(`bench: ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

function stats(xs: readonly number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: percentile(s, 50), p95: percentile(s, 95) };
}

/** Rows of `get deploy` that are `1/1 Running`. */
function readyRows(table: string): number {
  return table.split('\n').filter((l) => / 1\/1 +Running /.test(l)).length;
}

let ws: Workspace | undefined;
let agent: Agent | undefined;

runBench(
  async () => {
    build();
    requireDockerAndImage();
    ws = new Workspace();
    const ports = await freePorts(DEPLOYMENTS);
    const files: Record<string, string> = { [`nodes/${ws.node}.yaml`]: nodeYaml(ws.node, ws.repo.bare) };
    for (const [i, port] of ports.entries()) {
      const name = `${ws.prefix}${String(i).padStart(2, '0')}`;
      files[`deployments/${name}.yaml`] = deploymentYaml(name, port, {
        INDEX: String(i),
        MODE: 'production',
      });
    }
    ws.repo.write(files).commit(`${DEPLOYMENTS} deployments`);
    const [metricsPort] = await freePorts(1);
    const t0 = performance.now();
    agent = new Agent({ repo: ws.repo.bare, node: ws.node, dataDir: ws.dataDir, metricsPort: metricsPort! });
    const env = { PATH: process.env['PATH'] ?? '', ORUN_SOCKET: agent.socket };

    let last = '';
    while (readyRows(last) < DEPLOYMENTS) {
      if (performance.now() - t0 > 300_000 || !agent.alive())
        throw new Error(`bench: ${DEPLOYMENTS} Deployments not ready:\n${last}\n${agent.dump()}`);
      await sleep(500);
      last = await timed([ORUNCTL, 'get', 'deploy'], env).then(
        (r) => r.stdout,
        () => '',
      );
    }
    const converged = performance.now() - t0;

    const base: number[] = [];
    const ctl: number[] = [];
    const help: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      const b = (await timed(['-e', ''], env)).ms;
      const c = await timed([ORUNCTL, 'get', 'deploy'], env);
      const h = (await timed([ORUNCTL, '--help'], env)).ms;
      if (c.stdout.trimEnd().split('\n').length !== DEPLOYMENTS + 1)
        throw new Error(`bench: unexpected output:\n${c.stdout}`);
      if (i >= WARMUP) {
        base.push(b);
        ctl.push(c.ms);
        help.push(h);
      }
    }
    const sb = stats(base);
    const sc = stats(ctl);
    const sh = stats(help);
    const row = (what: string, s: { median: number; p95: number }): string =>
      `| ${what} | ${fmt(s.median, 1)} ms | ${fmt(s.p95, 1)} ms | ${fmt(s.median / sb.median, 2)}\u00d7 |`;
    writeSection('orunctl', [
      '### orunctl (`bench/orunctl.ts`)',
      '',
      `Whole-process \`orunctl get deploy\` (dist/orunctl.js) against a real agent running ${DEPLOYMENTS} busybox ` +
        `Deployments (all Ready; the agent converged them in ${fmt(converged / 1000, 1)} s), compared with ` +
        `\`node -e ''\` startup; N=${N} alternating runs after ${WARMUP} warm-ups. \`orunctl --help\` loads the ` +
        'same bundle without a request, so the gap between the two is the request and the table.',
      machine(),
      '',
      '| measurement | median | p95 | ratio (median) |',
      '|---|---:|---:|---:|',
      row("baseline: `node -e ''`", sb),
      row('`orunctl --help` (load only, no request)', sh),
      row(`\`orunctl get deploy\`, ${DEPLOYMENTS} Deployments`, sc),
    ]);
  },
  async () => {
    await agent?.stop();
    ws?.cleanup();
  },
);
