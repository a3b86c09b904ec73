// Orchfile benchmark: parse throughput on a generated 10,000-service Orchfile (against a bare
// split-and-trim of the same lines as the baseline), and whole-process `orch validate` time
// (against `node -e ''` startup). Writes its table into BENCHMARKS.md between bench:orchfile markers.
// Run: node_modules/.bin/node bench/orchfile.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOrchfiles } from '../apis/orchfile/index.ts';

const SERVICES = 10_000;

function generate(n: number): string {
  const out = ['ARG tag=15', 'ARG mem=512M', ''];
  for (let i = 0; i < n; i++) {
    const host = i % 2 === 0;
    out.push(`SERVICE svc-${i}`);
    out.push(host ? `  RUN ./bin/worker --id ${i}` : `  FROM registry.local/app:\${tag}`);
    if (!host) out.push(`  PUBLISH ${10_000 + (i % 50_000)}:8080`, `  VOLUME data-${i}:/data`);
    out.push(
      `  ENV ID=${i}`,
      '  ENV MODE=bench',
      '  MEMORY ${mem}',
      '  RESTART on-failure',
      '  RESTART_DELAY 5s',
    );
    out.push('  HEALTHCHECK http://localhost:8080/health');
    if (i > 0) out.push(`  REQUIRES svc-${i - 1}`);
    if (i > 1) out.push(`  AFTER svc-${i - 2}`);
    out.push('');
  }
  return out.join('\n');
}

/** Median wall time in ms of `runs` calls after `warmup` calls. */
function median(runs: number, warmup: number, fn: () => void): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function spawnOk(args: string[]): void {
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
}

execFileSync(process.execPath, ['hack/build.ts'], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'orch-bench-'));
try {
  const text = generate(SERVICES);
  const lines = text.split('\n').length;
  const big = join(dir, 'big.orch');
  writeFileSync(big, text);

  const check = parseOrchfiles([{ path: 'big.orch', text }]);
  if (!check.ok) throw new Error(`generated Orchfile is invalid: ${check.errors[0]?.message}`);

  let sink = 0;
  const parseMs = median(9, 2, () => {
    const r = parseOrchfiles([{ path: 'big.orch', text }]);
    sink += r.ok ? r.graph.services.length : 0;
  });
  const splitMs = median(9, 2, () => {
    for (const l of text.split('\n')) sink += l.trim().length;
  });

  const small = 'test/orchfile/fixtures/spec-example.orch';
  const nodeMs = median(15, 3, () => spawnOk(['-e', '']));
  const validateMs = median(15, 3, () => spawnOk(['dist/orch.js', 'validate', small]));
  const validateBigMs = median(5, 1, () => spawnOk(['dist/orch.js', 'validate', big]));
  if (sink < 0) console.log(sink);

  const f = (n: number, d = 1): string => n.toFixed(d);
  const rows = [
    '| measurement | value | baseline | ratio |',
    '|---|---|---|---|',
    `| parse+merge+validate, ${SERVICES.toLocaleString('en')} services (${lines.toLocaleString('en')} lines), in-process | ${f(parseMs)} ms = ${Math.round((lines / parseMs) * 1000).toLocaleString('en')} lines/s | split+trim the same lines: ${f(splitMs)} ms | ${f(parseMs / splitMs)}× |`,
    `| \`orch validate\` spec example, whole process | ${f(validateMs)} ms | \`node -e ''\`: ${f(nodeMs)} ms | ${f(validateMs / nodeMs, 2)}× |`,
    `| \`orch validate\` ${SERVICES.toLocaleString('en')}-service file, whole process | ${f(validateBigMs)} ms | \`node -e ''\`: ${f(nodeMs)} ms | ${f(validateBigMs / nodeMs, 2)}× |`,
  ];
  const section = [
    '<!-- bench:orchfile -->',
    '### orchfile',
    '',
    `Medians; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. \`node_modules/.bin/node bench/orchfile.ts\``,
    '',
    ...rows,
    '<!-- /bench:orchfile -->',
  ].join('\n');
  console.log(section);

  const md = readFileSync('BENCHMARKS.md', 'utf8');
  const re = /<!-- bench:orchfile -->[\s\S]*?<!-- \/bench:orchfile -->/;
  writeFileSync('BENCHMARKS.md', re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
