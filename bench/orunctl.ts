// `orunctl get deploy` on 50 Deployments as a whole process (dist/orunctl.js: node startup,
// bundle load, one request over the unix socket, the table), against `node -e ''` startup in the
// same run, plus `orunctl --help` to split load time from the request. Runs alternate so drift
// hits all alike; N=20 after 2 warm-ups.
//
// The API is served in this process by the real server (runtime/api) over FakeApiBackend with
// 50 realistic Deployments (status, conditions, env with a SOPS value): deterministic, and it
// starts no agent, because a real agent prunes every orun-managed container it does not own,
// including other runs' on a shared dockerd. Server work for 50 objects is well under a
// millisecond, so the process dominates either way.
// Run: node_modules/.bin/node bench/orunctl.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiBackend } from '../runtime/api/fake-backend.ts';
import { createApiServer } from '../runtime/api/server.ts';
import { listenUnixSocket } from '../runtime/api/socket.ts';
import { ago, sampleDeployment } from '../runtime/api/testdata.ts';
import { build, fmt, machine, percentile, runBench, writeSection } from './support/agent-bench.ts';

const N = 20;
const WARMUP = 2;
const DEPLOYMENTS = 50;
const NODE = process.execPath;
const ORUNCTL = join(import.meta.dirname, '../dist/orunctl.js');

/** Runs `node args...` to exit (asynchronously: the API server answers from this process). */
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

const dir = mkdtempSync(join(tmpdir(), 'orun-bench-orunctl-'));
let close: (() => Promise<void>) | undefined;

runBench(
  async () => {
    build();
    const now = new Date();
    const backend = new FakeApiBackend();
    for (let i = 0; i < DEPLOYMENTS; i++) {
      const name = `app-${String(i).padStart(2, '0')}`;
      const d = sampleDeployment(now, name);
      backend.set({
        ...d,
        metadata: { ...d.metadata, creationTimestamp: ago(now, 60 * (i + 1)) },
        spec: { ...d.spec, ports: [{ containerPort: 80, port: 8000 + i }] },
      });
    }
    const socket = join(dir, 'orun.sock');
    const listener = await listenUnixSocket(socket, createApiServer(backend));
    close = () => listener.close();
    const env = { PATH: process.env['PATH'] ?? '', ORUN_SOCKET: socket };

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
    writeSection('orunctl', [
      '### orunctl (`bench/orunctl.ts`)',
      '',
      `Whole-process \`orunctl get deploy\` (dist/orunctl.js) listing ${DEPLOYMENTS} Deployments over the unix socket, ` +
        `against \`node -e ''\` startup; N=${N} alternating runs after ${WARMUP} warm-ups. The API is the real server ` +
        'over FakeApiBackend in the bench process (no agent: a real one would prune other runs\u2019 containers).',
      machine(),
      '',
      '| measurement | median | p95 | ratio (median) |',
      '|---|---:|---:|---:|',
      `| baseline: \`node -e ''\` | ${fmt(sb.median, 1)} ms | ${fmt(sb.p95, 1)} ms | 1.00\u00d7 |`,
      `| \`orunctl --help\` (load only, no request) | ${fmt(sh.median, 1)} ms | ${fmt(sh.p95, 1)} ms | ${fmt(sh.median / sb.median, 2)}\u00d7 |`,
      `| \`orunctl get deploy\`, ${DEPLOYMENTS} Deployments | ${fmt(sc.median, 1)} ms | ${fmt(sc.p95, 1)} ms | ${fmt(sc.median / sb.median, 2)}\u00d7 |`,
    ]);
  },
  async () => {
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  },
);
