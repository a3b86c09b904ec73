// Work-queue throughput: add+get+done per second, with N async workers, against a plain array
// FIFO (push/shift) measured in the same run. Writes its table into BENCHMARKS.md.
// Run: node_modules/.bin/node bench/workqueue.ts
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { newRegistry, RuntimeMetrics } from '../runtime/metrics/index.ts';
import { WorkQueue, type QueueMetricsProvider } from '../runtime/workqueue/index.ts';

const ITEMS = 200_000;
const KEYS = 10_000; // distinct keys, so dedup and the sets see realistic sizes
const BATCH = 1_000; // items added before the producer yields to the workers
const RUNS = Number(process.env.WORKQUEUE_RUNS ?? 9);
const keys = Array.from({ length: KEYS }, (_, i) => `Deployment/app-${i}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function measure(fn: () => void | Promise<void>): Promise<number> {
  return (async () => {
    const t0 = performance.now();
    await fn();
    return ITEMS / ((performance.now() - t0) / 1000);
  })();
}

function baseline(): void {
  const fifo: string[] = [];
  let processed = 0;
  for (let i = 0; i < ITEMS; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) fifo.push(keys[j % KEYS] as string);
    while (fifo.length > 0) {
      fifo.shift();
      processed++;
    }
  }
  if (processed !== ITEMS) throw new Error('baseline lost items');
}

function syncQueue(): void {
  const q = new WorkQueue();
  for (let i = 0; i < ITEMS; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) q.add(keys[j % KEYS] as string);
    for (let r = q.tryGet(); r && !r.shutdown; r = q.tryGet()) q.done(r.item);
  }
}

async function asyncQueue(workers: number, metrics?: QueueMetricsProvider): Promise<void> {
  const q = new WorkQueue({ name: 'bench', metrics });
  let processed = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const r = await q.get();
      if (r.shutdown) return;
      processed++;
      q.done(r.item);
    }
  };
  const running = Array.from({ length: workers }, () => worker());
  for (let i = 0; i < ITEMS; i += BATCH) {
    for (let j = i; j < i + BATCH; j++) q.add(keys[j % KEYS] as string);
    await new Promise((r) => setImmediate(r));
  }
  q.shutDown();
  await Promise.all(running);
  if (processed !== ITEMS) throw new Error(`lost items: ${processed}/${ITEMS}`);
}

const cases: { name: string; run: () => void | Promise<void> }[] = [
  { name: 'baseline: array push/shift', run: baseline },
  { name: 'WorkQueue, sync tryGet/done', run: syncQueue },
  { name: 'WorkQueue, 1 async worker', run: () => asyncQueue(1) },
  { name: 'WorkQueue, 2 async workers', run: () => asyncQueue(2) },
  { name: 'WorkQueue, 8 async workers', run: () => asyncQueue(8) },
  {
    name: 'WorkQueue, 8 workers + prom-client metrics',
    run: () => asyncQueue(8, new RuntimeMetrics(newRegistry())),
  },
];

const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let run = 0; run < RUNS; run++) {
  // Interleave cases so drift in machine load hits all of them alike.
  for (const c of cases) results.get(c.name)?.push(await measure(c.run));
}
const base = median(results.get(cases[0]?.name ?? '') ?? []);
const alone = median(results.get('WorkQueue, 8 async workers') ?? []);
const rows = cases.map((c) => {
  const ops = median(results.get(c.name) ?? []);
  const vsAlone = c.name.startsWith('WorkQueue, 8') ? `${(ops / alone).toFixed(2)}×` : '';
  return `| ${c.name} | ${Math.round(ops).toLocaleString('en-US')} | ${(ops / base).toFixed(3)} | ${vsAlone} |`;
});
const table = [
  `### Work queue (\`bench/workqueue.ts\`)`,
  '',
  `add+get+done per second: ${ITEMS.toLocaleString('en-US')} items over ${KEYS.toLocaleString('en-US')} keys, added in batches of ${BATCH}; median of ${RUNS} interleaved runs.`,
  `Ratio is against the baseline (a plain array FIFO, push/shift, same items) in the same run; the last column`,
  `compares the queue with its metrics (the agent's RuntimeMetrics: the same workqueue_* names, counted in plain`,
  `numbers and read by prom-client when scraped) with the same queue without metrics (goal ≥ 0.5×).`,
  `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| case | ops/s | ratio vs baseline | vs the queue alone (8 workers) |',
  '|---|---:|---:|---:|',
  ...rows,
].join('\n');
console.log(table);

const file = new URL('../BENCHMARKS.md', import.meta.url);
const start = '<!-- bench:workqueue -->';
const end = '<!-- /bench:workqueue -->';
let md = readFileSync(file, 'utf8');
const section = `${start}\n${table}\n${end}`;
const i = md.indexOf(start);
const j = md.indexOf(end);
md =
  i >= 0 && j > i ? md.slice(0, i) + section + md.slice(j + end.length) : `${md.trimEnd()}\n\n${section}\n`;
writeFileSync(file, md);
