// Is the agent responsive while it loads a revision of hostile manifests (issue 9, "Bounds")?
// The agent (node dist/orun.js, the systemd unit's environment) runs with one Node; a commit then
// adds files just under the 1 MiB limit in the shapes that cost the decoder most per byte (a
// 65,000-key map, nested flow maps, long strings, 40,000 anchors with 100 aliases, one flow map):
// each is refused (no image), after a full parse. Meanwhile /healthz is asked back to back and
// `orunctl get deploy` runs in a loop; both are timed, from the commit's fetch to its `applied
// revision` log line. The baseline, in the same run and alternating with it (A/B/A/B), is the
// agent as it was before the decode worker (RESPONSIVE_BASELINE_REF, built from `git archive`
// into a temp dir): every file decoded on the event loop, with a turn between two files.
// Writes its section of BENCHMARKS.md (bench:agent-responsive).
// Run: node_modules/.bin/node bench/agent-responsive.ts   (RESPONSIVE_ROUNDS=2 pairs by default)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  Agent,
  build,
  describeEnv,
  fmt,
  freePorts,
  machine,
  NODE_BIN,
  nodeYaml,
  percentile,
  procSample,
  sleep,
  unitEnvironment,
  Workspace,
  writeSection,
} from './support/agent-bench.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** The last commit of main before the decode worker (0202747, 0df0f11). */
const BASELINE_REF = process.env.RESPONSIVE_BASELINE_REF ?? 'c39b4bc';
const ROUNDS = Number(process.env.RESPONSIVE_ROUNDS ?? 2);
const LIMIT = 1024 * 1024;

const head = (name: string) => [
  'apiVersion: run.orcra.dev/v0alpha',
  'kind: Deployment',
  'metadata:',
  `  name: ${name}`,
  'spec:',
];
/** Lines from `gen` after `lines` until the file would pass `limit` bytes. */
function fill(lines: string[], gen: (i: number) => string, tail = '', limit = LIMIT - 64): string {
  let size = lines.join('\n').length + tail.length + 1;
  for (let i = 0; ; i++) {
    const l = gen(i);
    if (size + l.length + 1 > limit) break;
    lines.push(l);
    size += l.length + 1;
  }
  return `${lines.join('\n')}${tail}\n`;
}

/** The hostile files: each just under the limit, each refused (no image) after a full parse. */
function hostileFiles(prefix: string): Record<string, string> {
  const anchors = [...head(`${prefix}anchors`), '  env:'];
  const aliases = Array.from({ length: 100 }, (_, i) => `    L${i}: *a${i}`).join('\n');
  return {
    keys: fill([...head(`${prefix}keys`), '  env:'], (i) => `    K${String(i).padStart(6, '0')}: "v"`),
    nested: fill(
      [...head(`${prefix}nested`), '  labels:'],
      (i) => `    k${i}: {a: {b: {c: [1, 2, {e: f}]}}}`,
    ),
    strings: fill([...head(`${prefix}strings`), '  env:'], (i) => `    S${i}: "${'x'.repeat(4000)}"`),
    anchors: fill(anchors, (i) => `    A${i}: &a${i} "v"`, `\n${aliases}`),
    flow: fill([...head(`${prefix}flow`), '  labels: {'], (i) => `    k${i}: v,`, '\n    }'),
  };
}

/** The baseline agent: BASELINE_REF's tree, built in a temp dir with this checkout's node_modules. */
function buildBaseline(): { js: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'orun-bench-baseline-'));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive ${BASELINE_REF} | tar -x -C "${dir}"`]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(NODE_BIN, ['hack/build.ts'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return { js: join(dir, 'dist/orun.js'), dir };
}

/** ms to an answer of GET /healthz (10 s client timeout: NaN when none). */
function healthz(address: string): Promise<number> {
  const [host, port] = address.split(':');
  const t0 = performance.now();
  return new Promise((res) => {
    const req = http.get(
      { host, port: Number(port), path: '/healthz', agent: false, timeout: 10_000 },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode === 200 ? performance.now() - t0 : NaN));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(NaN));
  });
}

/** ms of one `orunctl get deploy` (the whole process), NaN when it failed. */
function orunctl(socket: string, js: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((res) => {
    const p = spawn(NODE_BIN, [join(js, '..', 'orunctl.js'), 'get', 'deploy'], {
      env: { ...process.env, ORUN_SOCKET: socket },
      stdio: 'ignore',
    });
    p.on('exit', (code) => res(code === 0 ? performance.now() - t0 : NaN));
  });
}

interface Run {
  build: 'before' | 'after';
  healthz: number[];
  healthzFailed: number;
  cli: number[];
  loadMs: number;
  rssMiB: number;
  rssPeakMiB: number;
  decodedInWorker: string;
  refused: number;
  load: string;
}

const hasMsg = (a: Agent, msg: string, sha?: string) =>
  a.lines.find(
    (l) =>
      l.msg === msg && (sha === undefined || (typeof l.revision === 'string' && l.revision.endsWith(sha))),
  );

async function waitLine(a: Agent, msg: string, sha?: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = hasMsg(a, msg, sha);
    if (l !== undefined) return l;
    if (!a.alive() || Date.now() > deadline) throw new Error(`bench: no "${msg}" line\n${a.dump()}`);
    await sleep(20);
  }
}

async function oneRun(which: Run['build'], js: string): Promise<Run> {
  const ws = new Workspace();
  const [metricsPort] = await freePorts(1);
  const load0 = loadavg()[0]!.toFixed(1);
  try {
    ws.repo.write({ [`nodes/${ws.node}.yaml`]: nodeYaml(ws.node, ws.repo.bare) }).commit('node');
    process.env.BENCH_ORUN_JS = js;
    const agent = new Agent({
      repo: ws.repo.bare,
      node: ws.node,
      dataDir: ws.dataDir,
      metricsPort: metricsPort!,
      logLevel: 'debug',
      env: unitEnvironment(),
    });
    try {
      await waitLine(agent, 'applied revision');
      const files: Record<string, string> = {};
      for (const [shape, text] of Object.entries(hostileFiles(ws.prefix)))
        files[`deployments/${ws.prefix}${shape}.yaml`] = text;
      const sha = ws.repo.write(files).commit('hostile: files at the size limit');
      const fetched = await waitLine(agent, 'fetched new revision', sha, 60_000);
      const run: Run = {
        build: which,
        healthz: [],
        healthzFailed: 0,
        cli: [],
        loadMs: 0,
        rssMiB: 0,
        rssPeakMiB: 0,
        decodedInWorker: '—',
        refused: 0,
        load: '',
      };
      const done = () => hasMsg(agent, 'applied revision', sha) !== undefined;
      const cli = (async () => {
        while (!done()) {
          const ms = await orunctl(agent.socket, js);
          if (!done()) run.cli.push(ms);
        }
      })();
      const rss = (async () => {
        while (!done()) {
          run.rssPeakMiB = Math.max(run.rssPeakMiB, procSample(agent.pid).rssKiB / 1024);
          await sleep(50);
        }
      })();
      while (!done()) {
        const ms = await healthz(agent.metricsAddress);
        if (Number.isNaN(ms)) run.healthzFailed++;
        else if (!done()) run.healthz.push(ms);
      }
      await Promise.all([cli, rss]);
      const applied = hasMsg(agent, 'applied revision', sha)!;
      run.loadMs = applied.arrived - fetched.arrived;
      run.refused = Number(applied.errors ?? 0);
      const decoded = hasMsg(agent, 'decoded revision', sha);
      if (decoded !== undefined)
        run.decodedInWorker = `${String(decoded.decodedInWorker)} of ${String(decoded.files)}`;
      await sleep(1000);
      run.rssMiB = procSample(agent.pid).rssKiB / 1024;
      run.load = `${load0} → ${loadavg()[0]!.toFixed(1)}`;
      return run;
    } finally {
      await agent.stop();
    }
  } finally {
    ws.cleanup();
  }
}

const startedAt = new Date().toISOString();
build();
const after = join(ROOT, 'dist/orun.js');
const baseline = buildBaseline();
const runs: Run[] = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    for (const [which, js] of [
      ['before', baseline.js],
      ['after', after],
    ] as const) {
      const r = await oneRun(which, js);
      runs.push(r);
      const s = [...r.healthz].sort((a, b) => a - b);
      console.error(
        `${which}: /healthz ${s.length} answers, p50 ${fmt(percentile(s, 50), 1)} ms, max ${fmt(percentile(s, 100))} ms; orunctl max ${fmt(Math.max(...r.cli))} ms; load ${fmt(r.loadMs)} ms (load avg ${r.load})`,
      );
    }
  }
} finally {
  rmSync(baseline.dir, { recursive: true, force: true });
}

const row = (r: Run): string => {
  const h = [...r.healthz].sort((a, b) => a - b);
  const c = [...r.cli].sort((a, b) => a - b);
  return `| ${r.build === 'before' ? `before (${BASELINE_REF}): every file on the event loop` : 'after: files ≥ 8 KiB in a worker thread'} | ${fmt(r.loadMs)} ms | ${fmt(h.length)} | ${fmt(percentile(h, 50), 1)} ms | ${fmt(percentile(h, 99))} ms | **${fmt(percentile(h, 100))} ms** | ${r.healthzFailed} | ${c.length} | ${fmt(percentile(c, 50))} ms | **${fmt(percentile(c, 100))} ms** | ${r.decodedInWorker} | ${fmt(r.rssPeakMiB, 1)} / ${fmt(r.rssMiB, 1)} MiB | ${r.load} |`;
};
const bytes = Object.values(hostileFiles('bench-xxxxx-')).reduce((n, t) => n + Buffer.byteLength(t), 0);
writeSection('agent-responsive', [
  '### agent-responsive',
  '',
  `${machine()} Started ${startedAt}; \`node_modules/.bin/node bench/agent-responsive.ts\`.`,
  '',
  `The agent (\`node dist/orun.js start\`, environment ${describeEnv(unitEnvironment())}, poll 1 s) holds one Node; a commit adds ${Object.keys(hostileFiles('x')).length} files of ${fmt(bytes / 2 ** 20, 2)} MiB in all, each just under the 1 MiB limit in a shape that costs the decoder most per byte (a 65,000-key map, nested flow maps, 4 KB strings, 40,000 anchors and 100 aliases, one flow map), each refused (no image) after a full parse. From that commit's \`fetched new revision\` to its \`applied revision\` log line, /healthz is asked back to back (each answer timed from the request) and \`orunctl get deploy\` runs in a loop (the whole process). Before and after alternate, same run.`,
  '',
  '| agent | fetch → applied | /healthz answers | p50 | p99 | max | unanswered | `orunctl get deploy` runs | p50 | max | files decoded in the worker | RSS peak / 1 s after | load avg |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...runs.map(row),
  '',
  `The longest /healthz wait is the longest the event loop was blocked (plus a round trip). Before, that is the decode of the costliest file; after, the longest step left on the event loop (structured clone of a result, the snapshot, the store). Fetch → applied is not the decode's cost alone: after, the agent's main thread answers 10,000+ back-to-back probes and the bench runs on the same 2 cores, beside the worker (before, the blocked agent answered almost none); a worker's start adds about 70 ms of CPU.`,
]);
