// CLI start-up as whole processes, against `node -e ''` in the same run: `orunctl --help`,
// `orch validate` of the spec example and `orun --help`, from the bundles (dist/*.js, run by the
// same Node) and from the single executable (dist/orun-linux-<arch>, `npm run dist`: V8 code
// cache built in, run through links named orunctl and orch), when it is there; another build's
// orch validate with BENCH_BEFORE_DIST. Runs alternate so drift hits all alike; CLI_RUNS (default 25)
// after 3 warm-ups; medians. Run: node_modules/.bin/node bench/cli-startup.ts
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  build,
  clockTicks,
  reapedTicks,
  fmt,
  machine,
  percentile,
  writeSection,
} from './support/agent-bench.ts';

const RUNS = Number(process.env.CLI_RUNS ?? 25);
const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const SEA = join(ROOT, 'dist', `orun-${process.platform}-${process.arch}`);
const SPEC = join(ROOT, 'test/orchfile/fixtures/spec-example.orch');

build();
const cases: { name: string; cmd: string; args: string[] }[] = [
  { name: "baseline: `node -e ''`", cmd: NODE, args: ['-e', ''] },
  { name: '`orunctl --help` (dist/orunctl.js)', cmd: NODE, args: [join(ROOT, 'dist/orunctl.js'), '--help'] },
  {
    name: '`orch validate` spec example (dist/orch.js)',
    cmd: NODE,
    args: [join(ROOT, 'dist/orch.js'), 'validate', SPEC],
  },
  { name: '`orun --help` (dist/orun.js)', cmd: NODE, args: [join(ROOT, 'dist/orun.js'), '--help'] },
];
const sea = existsSync(SEA);
// Another build (BENCH_BEFORE_DIST=/path/to/dist, e.g. the previous commit's; BENCH_BEFORE_LABEL
// names it): a before/after pair.
const before = process.env.BENCH_BEFORE_DIST;
if (before !== undefined) {
  cases.push({
    name: `\`orch validate\` spec example (${process.env.BENCH_BEFORE_LABEL ?? before + '/orch.js'})`,
    cmd: NODE,
    args: [join(before, 'orch.js'), 'validate', SPEC],
  });
}
// The single executable run the documented way: through links named orunctl and orch (argv[0]).
const links = sea ? mkdtempSync(join(tmpdir(), 'orun-bench-sea-')) : undefined;
if (links !== undefined) {
  for (const tool of ['orunctl', 'orch']) symlinkSync(SEA, join(links, tool));
  cases.push(
    { name: '`orunctl --help` (single executable)', cmd: join(links, 'orunctl'), args: ['--help'] },
    {
      name: '`orch validate` spec example (single executable)',
      cmd: join(links, 'orch'),
      args: ['validate', SPEC],
    },
  );
}
const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
// CPU time is steadier than wall time on a shared machine: summed over the runs (10 ms ticks).
const cpuTicks = new Map<string, number>(cases.map((c) => [c.name, 0]));
for (let i = 0; i < RUNS + 3; i++) {
  for (const c of cases) {
    const t0 = performance.now();
    const ticks0 = reapedTicks();
    const r = spawnSync(c.cmd, c.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr.toString()}`);
    if (i >= 3) {
      times.get(c.name)!.push(ms);
      cpuTicks.set(c.name, cpuTicks.get(c.name)! + reapedTicks() - ticks0);
    }
  }
}
if (links !== undefined) rmSync(links, { recursive: true, force: true });
const med = (n: string) =>
  percentile(
    [...times.get(n)!].sort((a, b) => a - b),
    50,
  );
const base = med(cases[0]!.name);
// The fastest run: on a shared machine, the closest to a run nothing else delayed.
const min = (n: string): number => Math.min(...times.get(n)!);
const baseMin = min(cases[0]!.name);
const cpuMs = (n: string) => (cpuTicks.get(n)! * 1000) / clockTicks() / RUNS;
const baseCpu = cpuMs(cases[0]!.name);
writeSection('cli-startup', [
  '### CLI start-up (`bench/cli-startup.ts`)',
  '',
  `Whole processes, ${RUNS} alternating runs after 3 warm-ups: wall time (median) and CPU time (user + system, mean per run),`,
  "each with its ratio against `node -e ''` (same Node, same run). CPU time and the fastest run vary less with the machine's load than the median.",
  sea
    ? 'The single executable (`npm run dist`, V8 code cache built in) measured as well, through links named orunctl and orch.'
    : 'No single executable in dist/ (run `npm run dist` first to measure it as well).',
  'The machine was shared with six other engineers running tests.',
  machine(),
  '',
  `Load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')}.`,
  '',
  '| | wall (median) | ratio | wall (min) | ratio | CPU per run | ratio |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...cases.map(
    (c) =>
      `| ${c.name} | ${fmt(med(c.name), 1)} ms | ${fmt(med(c.name) / base, 2)}× | ${fmt(min(c.name), 1)} ms | ${fmt(min(c.name) / baseMin, 2)}× | ${fmt(cpuMs(c.name), 1)} ms | ${fmt(cpuMs(c.name) / baseCpu, 2)}× |`,
  ),
]);
