// Manifest decode cost against a map's size (issue 9 bug 3: a 4.9 MB map froze the agent for
// 55 s). The decoder parses with the yaml library's quadratic duplicate-key check off and checks
// duplicates itself in one pass; the baseline in the same run is the library's parse with its own
// check on (`uniqueKeys: true`, its default: what the decoder did before), on the same texts, the
// two alternating. A linear cost doubles with the keys; the baseline's grows about 4× per doubling.
// Writes its table into BENCHMARKS.md between bench:manifest-parse markers.
// Run: node_modules/.bin/node bench/manifest-parse.ts   (MANIFEST_BENCH_BASELINE_MAX=20000 to
// time the baseline on larger maps; it is quadratic, so it is bounded by default).
import { loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { decodeManifestFile } from '../apis/run.orcra.dev/v0alpha/decode.ts';

const SIZES = [2_500, 5_000, 10_000, 20_000, 40_000, 80_000];
const BASELINE_MAX = Number(process.env['MANIFEST_BENCH_BASELINE_MAX'] ?? 10_000);

function manifest(keys: number): string {
  const env = Array.from({ length: keys }, (_, i) => `    K${i}: v\n`).join('');
  return `apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  image: nginx:1\n  env:\n${env}`;
}

function ms(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const startedAt = new Date().toISOString();
const loadBefore = loadavg()[0]!.toFixed(1);
const rows: string[] = [];
let previous: { decode: number; base?: number } | undefined;
for (const keys of SIZES) {
  const text = manifest(keys);
  const decodes: number[] = [];
  const bases: number[] = [];
  // A/B/A/B/A: the baseline (when timed) and the decoder alternate on the same text.
  for (let i = 0; i < 3; i++) {
    decodes.push(
      ms(() => {
        const r = decodeManifestFile('deployments/web.yaml', text, { maxBytes: Number.MAX_SAFE_INTEGER });
        if (r.errors.length > 0) throw new Error(r.errors[0]!.format());
      }),
    );
    if (keys <= BASELINE_MAX && i < 2)
      bases.push(ms(() => void parseAllDocuments(text, { uniqueKeys: true })));
  }
  const decode = median(decodes);
  const base = bases.length > 0 ? median(bases) : undefined;
  const growth = (now: number, before: number | undefined): string =>
    before === undefined ? '' : ` (${(now / before).toFixed(1)}× the half)`;
  rows.push(
    `| ${keys.toLocaleString('en')} | ${(text.length / 1e6).toFixed(2)} MB | ${decode.toFixed(0)} ms${growth(decode, previous?.decode)} | ${
      base === undefined ? 'not timed (quadratic)' : `${base.toFixed(0)} ms${growth(base, previous?.base)}`
    } |`,
  );
  previous = { decode, ...(base === undefined ? {} : { base }) };
  console.error(rows[rows.length - 1]);
}

const section = [
  '<!-- bench:manifest-parse -->',
  '### manifest-parse',
  '',
  `Node ${process.version}, ${startedAt} (load ${loadBefore} → ${loadavg()[0]!.toFixed(1)}). One Deployment whose \`spec.env\` has N keys; medians of 3 decodes and 2 baseline parses, alternating. \`node_modules/.bin/node bench/manifest-parse.ts\``,
  '',
  '| keys | file | `decodeManifestFile` (one-pass duplicate check) | baseline: yaml `parseAllDocuments`, `uniqueKeys: true` |',
  '|---|---|---|---|',
  ...rows,
  '',
  'The agent refuses a file over 1 MiB (`--max-manifest-bytes`) before parsing it, and decodes a file of 8 KiB or more in a worker thread (runtime/manifests/decoder.ts), so its event loop waits for none of these decodes (bench agent-responsive; docs/reliability.md, responsiveness).',
  '<!-- /bench:manifest-parse -->',
].join('\n');
console.log(section);
const md = readFileSync('BENCHMARKS.md', 'utf8');
const re = /<!-- bench:manifest-parse -->[\s\S]*?<!-- \/bench:manifest-parse -->/;
writeFileSync('BENCHMARKS.md', re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}\n`);
