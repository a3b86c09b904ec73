// `orunctl get deploy` on 50 Deployments as a whole process (dist/orunctl.js: node startup,
// bundle load, one request over the unix socket to a real agent, the table), against
// `node -e ''` startup in the same run, plus `orunctl --help` (the full program, no request).
// Wall time (median) and CPU time (user + system of the process, mean), each against the
// baseline's. Runs alternate so drift hits all alike; ORUNCTL_RUNS (default 30) after 3 warm-ups.
// Also measured when there: another build (BENCH_ORUNCTL_JS=/path/to/dist/orunctl.js, e.g. the
// previous commit's, for a before/after pair; BENCH_ORUNCTL_LABEL names it) and the single
// executable (dist/orun-linux-<arch>, run the documented way, through a link named orunctl).
// The agent's side: request → first and last byte of the list over a raw connection, against
// GET /version.
//
// The agent is the real one (dist/orun.js start) on a bare Git repo with 50 busybox Deployments
// (host port, env, readiness probe); the runs start once all 50 are Ready. Containers are named
// `orun-bench-<random>-*` and removed at the end.
// Run: node_modules/.bin/node bench/orunctl.ts
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Agent,
  Workspace,
  build,
  clockTicks,
  reapedTicks,
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

const N = Number(process.env.ORUNCTL_RUNS ?? 30);
const WARMUP = 3;
const DEPLOYMENTS = 50;
const NODE = process.execPath;
const ORUNCTL = join(import.meta.dirname, '../dist/orunctl.js');
const SEA = join(import.meta.dirname, `../dist/orun-${process.platform}-${process.arch}`);

/** Runs `cmd args...` (default node) to exit; its wall time, CPU time and stdout. */
function timed(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cmd = NODE,
): Promise<{ ms: number; cpuMs: number; stdout: string }> {
  return new Promise((res, rej) => {
    const ticks0 = reapedTicks();
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', rej);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      const cpuMs = ((reapedTicks() - ticks0) * 1000) / clockTicks();
      if (code === 0) res({ ms, cpuMs, stdout });
      else rej(new Error(`bench: ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

function stats(xs: readonly number[]): { median: number; p95: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: percentile(s, 50), p95: percentile(s, 95), min: s[0] ?? NaN };
}

/** Rows of `get deploy` that are `1/1 Running`. */
function readyRows(table: string): number {
  return table.split('\n').filter((l) => / 1\/1 +Running /.test(l)).length;
}

const SERVER_RUNS = 40;

/** Medians of request → first and last byte of `path` over a fresh connection each time. */
async function serverTimes(
  socket: string,
  path: string,
): Promise<{ first: number; last: number; bytes: number }> {
  const runs: { first: number; last: number; bytes: number }[] = [];
  for (let i = 0; i < SERVER_RUNS + 5; i++) {
    const r = await new Promise<{ first: number; last: number; bytes: number }>((res, rej) => {
      const t0 = performance.now();
      let first = 0;
      let bytes = 0;
      const s = connect(socket);
      s.on('data', (c: Buffer) => {
        if (bytes === 0) first = performance.now() - t0;
        bytes += c.length;
      });
      s.once('error', rej);
      s.once('end', () => res({ first, last: performance.now() - t0, bytes }));
      s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    });
    if (i >= 5) runs.push(r);
    await sleep(20);
  }
  const med = (k: 'first' | 'last'): number => stats(runs.map((r) => r[k])).median;
  return { first: med('first'), last: med('last'), bytes: runs[0]!.bytes };
}

let ws: Workspace | undefined;
let agent: Agent | undefined;
let links: string | undefined;

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

    const cases: { name: string; args: string[]; cmd?: string; table?: boolean }[] = [
      { name: "baseline: `node -e ''`", args: ['-e', ''] },
      {
        name: `\`orunctl get deploy\`, ${DEPLOYMENTS} Deployments`,
        args: [ORUNCTL, 'get', 'deploy'],
        table: true,
      },
      { name: '`orunctl --help` (the full program, no request)', args: [ORUNCTL, '--help'] },
    ];
    const before = process.env.BENCH_ORUNCTL_JS;
    if (before !== undefined)
      cases.push({
        name: `\`orunctl get deploy\`, ${process.env.BENCH_ORUNCTL_LABEL ?? before}`,
        args: [before, 'get', 'deploy'],
        table: true,
      });
    if (existsSync(SEA)) {
      links = mkdtempSync(join(tmpdir(), 'orun-bench-sea-'));
      symlinkSync(SEA, join(links, 'orunctl'));
      cases.push({
        name: '`orunctl get deploy`, single executable (a link named orunctl)',
        cmd: join(links, 'orunctl'),
        args: ['get', 'deploy'],
        table: true,
      });
    }
    const wall = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const cpu = new Map<string, number>(cases.map((c) => [c.name, 0]));
    for (let i = 0; i < WARMUP + N; i++) {
      for (const c of cases) {
        const r = await timed(c.args, env, c.cmd);
        if (c.table === true && r.stdout.trimEnd().split('\n').length !== DEPLOYMENTS + 1)
          throw new Error(`bench: unexpected output:\n${r.stdout}`);
        if (i < WARMUP) continue;
        wall.get(c.name)!.push(r.ms);
        cpu.set(c.name, cpu.get(c.name)! + r.cpuMs);
      }
    }
    const list = await serverTimes(agent.socket, '/apis/run.orcra.dev/v0alpha/deployments');
    const version = await serverTimes(agent.socket, '/version');
    const base = stats(wall.get(cases[0]!.name)!);
    const baseCpu = cpu.get(cases[0]!.name)! / N;
    const row = (c: { name: string }): string => {
      const s = stats(wall.get(c.name)!);
      const cpuMs = cpu.get(c.name)! / N;
      return `| ${c.name} | ${fmt(s.median, 1)} ms | ${fmt(s.p95, 1)} ms | ${fmt(s.median / base.median, 2)}\u00d7 | ${fmt(s.min, 1)} ms | ${fmt(s.min / base.min, 2)}\u00d7 | ${fmt(cpuMs, 1)} ms | ${fmt(cpuMs / baseCpu, 2)}\u00d7 |`;
    };
    writeSection('orunctl', [
      '### orunctl (`bench/orunctl.ts`)',
      '',
      `Whole-process \`orunctl get deploy\` (dist/orunctl.js) against a real agent running ${DEPLOYMENTS} busybox ` +
        `Deployments (all Ready; the agent converged them in ${fmt(converged / 1000, 1)} s), compared with ` +
        `\`node -e ''\` startup; N=${N} alternating runs after ${WARMUP} warm-ups: wall time (median, p95) and CPU time ` +
        '(user + system, mean per run), each with its ratio against the baseline. CPU time and the fastest run ' +
        "vary less with the machine's load than the median wall time. `orunctl --help` loads the full program (commander), which `get` no longer does.",
      machine(),
      `Load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(', ')}.`,
      '',
      '| measurement | wall (median) | p95 | ratio | wall (min) | ratio | CPU per run | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...cases.map(row),
      '',
      `The agent's side (${SERVER_RUNS} requests on fresh connections, medians): the list of ${DEPLOYMENTS} ` +
        `(${fmt(list.bytes / 1024, 1)} KiB) first byte ${fmt(list.first, 2)} ms, last byte ${fmt(list.last, 2)} ms; ` +
        `\`GET /version\` ${fmt(version.first, 2)} / ${fmt(version.last, 2)} ms.`,
    ]);
  },
  async () => {
    await agent?.stop();
    ws?.cleanup();
    if (links !== undefined) rmSync(links, { recursive: true, force: true });
  },
);
