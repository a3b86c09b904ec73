// The single executable (`npm run dist` → dist/orun-linux-x64): its size, and whole-process
// start-up against `node -e ''` in the same run — `orun --version`, `orunctl get deploy` against a
// real agent (5 busybox Deployments), `orch validate` of a 20-service Orchfile — each beside the
// same command from the Node bundles (dist/*.js), and the executable built without V8's code
// cache (to show what the cache buys). N runs alternate after warm-ups so drift hits all alike.
// Then, unless BENCH_SEA_BOOTSTRAP=0: `orun bootstrap nodes/<name>.yaml --yes` against a fresh
// systemd node container (orun-test/node:bookworm, no Node.js; git and Caddy from the local apt
// repository of hack/node-debs.sh) timed to its first sync (bootstrap waits for it).
// Run: node_modules/.bin/node bench/sea.ts
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { keygen } from '../test/support/sshd.ts';
import { docker, startDockerd, startNode, type NodeContainer } from '../test/bootstrap/support.ts';
import {
  Agent,
  Workspace,
  build,
  chainOrchfile,
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

const N = Number(process.env.BENCH_N ?? 15);
const WARMUP = 2;
const DEPLOYMENTS = 5;
const ROOT = join(import.meta.dirname, '..');
const NODE = process.execPath;
const SEA = join(ROOT, 'dist', `orun-linux-${process.arch}`);
const DEBS = process.env.ORUN_NODE_DEBS ?? '/var/cache/orun-test/node-debs';

function timed(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; stdout: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', rej);
    child.once('close', (code) => {
      if (code === 0) res({ ms: performance.now() - t0, stdout: stdout + stderr });
      else rej(new Error(`bench: ${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

const median = (xs: readonly number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const p95 = (xs: readonly number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    95,
  );

function dist(env: NodeJS.ProcessEnv = {}): void {
  execFileSync(NODE, [join(ROOT, 'hack', 'dist.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
}

let ws: Workspace | undefined;
let agent: Agent | undefined;
let tmp: string | undefined;
let node: NodeContainer | undefined;
let dockerd: Awaited<ReturnType<typeof startDockerd>> | undefined;

runBench(
  async () => {
    build();
    requireDockerAndImage();
    tmp = mkdtempSync(join(tmpdir(), 'orun-bench-sea-'));
    dist({ ORUN_DIST_DIR: join(tmp, 'nocache'), ORUN_SEA_CODE_CACHE: '0' });
    const noCache = join(tmp, 'nocache', `orun-linux-${process.arch}`);
    dist();
    const size = statSync(SEA).size;
    const nodeSize = statSync(NODE).size;

    ws = new Workspace();
    const ports = await freePorts(DEPLOYMENTS + 1);
    const files: Record<string, string> = { [`nodes/${ws.node}.yaml`]: nodeYaml(ws.node, ws.repo.bare) };
    for (let i = 0; i < DEPLOYMENTS; i++)
      files[`deployments/${ws.prefix}${i}.yaml`] = deploymentYaml(`${ws.prefix}${i}`, ports[i], {
        I: String(i),
      });
    ws.repo.write(files).commit('deployments');
    agent = new Agent({
      repo: ws.repo.bare,
      node: ws.node,
      dataDir: ws.dataDir,
      metricsPort: ports[DEPLOYMENTS]!,
    });
    const env = { PATH: process.env.PATH ?? '', ORUN_SOCKET: agent.socket };
    const t0 = performance.now();
    for (;;) {
      const out = await timed(NODE, [join(ROOT, 'dist/orunctl.js'), 'get', 'deploy'], env).then(
        (r) => r.stdout,
        () => '',
      );
      if (out.split('\n').filter((l) => / 1\/1 +Running /.test(l)).length === DEPLOYMENTS) break;
      if (performance.now() - t0 > 180_000) throw new Error(`bench: Deployments not ready:\n${out}`);
      await sleep(500);
    }
    const orchfile = join(tmp, 'Orchfile');
    writeFileSync(orchfile, chainOrchfile(20));

    const cases: [string, string, string[]][] = [
      ["baseline: `node -e ''`", NODE, ['-e', '']],
      ['`orun --version`, dist/orun.js', NODE, [join(ROOT, 'dist/orun.js'), '--version']],
      ['`orun --version`, single executable', SEA, ['--version']],
      ['`orun --version`, single executable without code cache', noCache, ['--version']],
      ['`orunctl get deploy`, dist/orunctl.js', NODE, [join(ROOT, 'dist/orunctl.js'), 'get', 'deploy']],
      ['`orunctl get deploy`, single executable', SEA, ['orunctl', 'get', 'deploy']],
      ['`orunctl get deploy`, single executable without code cache', noCache, ['orunctl', 'get', 'deploy']],
      [
        '`orch validate` (20 services), dist/orch.js',
        NODE,
        [join(ROOT, 'dist/orch.js'), 'validate', orchfile],
      ],
      ['`orch validate` (20 services), single executable', SEA, ['orch', 'validate', orchfile]],
    ];
    const times = cases.map(() => [] as number[]);
    const loads = [loadavg()[0]!];
    for (let i = 0; i < WARMUP + N; i++)
      for (const [j, [, cmd, args]] of cases.entries()) {
        const r = await timed(cmd, args, env);
        if (i >= WARMUP) times[j]!.push(r.ms);
      }
    loads.push(loadavg()[0]!);
    const base = median(times[0]!);
    const rows = cases.map(
      ([what], j) =>
        `| ${what} | ${fmt(median(times[j]!), 1)} ms | ${fmt(p95(times[j]!), 1)} ms | ${fmt(median(times[j]!) / base, 2)}\u00d7 |`,
    );
    await agent.stop();
    agent = undefined;

    let bootstrapLine = 'Bootstrap: not measured (BENCH_SEA_BOOTSTRAP=0).';
    if (process.env.BENCH_SEA_BOOTSTRAP !== '0') {
      const key = join(tmp, 'id');
      keygen(key, 'orun-bench');
      dockerd = await startDockerd(join(tmp, 'd'));
      node = await startNode({
        dockerSocket: dockerd.socket,
        authorizedKey: readFileSync(`${key}.pub`, 'utf8').trim(),
        mounts: [`${DEBS}:/srv/debs:ro`],
      });
      await node.exec('sh', '-c', "echo 'deb [trusted=yes] file:/srv/debs ./' > /etc/apt/sources.list");
      await node.exec(
        'sh',
        '-c',
        'git init -q -b main /tmp/s && mkdir /tmp/s/nodes && git -C /tmp/s -c user.name=b -c user.email=b@b commit -q --allow-empty -m init && git clone -q --bare /tmp/s /srv/m.git',
      );
      const repo = join(tmp, 'repo');
      mkdirSync(join(repo, 'nodes'), { recursive: true });
      const manifest = join(repo, 'nodes', 'bench-1.yaml');
      writeFileSync(
        manifest,
        `apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata: {name: bench-1}\nspec: {host: ${node.ip}, sshKeyPath: ${key}, gitRepo: file:///srv/m.git}\n`,
      );
      const t1 = performance.now();
      const r = await timed(SEA, ['bootstrap', manifest, '--yes', '--known-hosts', join(tmp, 'kh')], {
        ...process.env,
        SSH_AUTH_SOCK: '',
      });
      const ms = performance.now() - t1;
      if (!/^bootstrap: first sync: ok/m.test(r.stdout))
        throw new Error(`bench: bootstrap did not sync:\n${r.stdout}`);
      bootstrapLine =
        `Bootstrap: \`orun bootstrap nodes/bench-1.yaml --yes\` (the single executable) against a fresh systemd node ` +
        `container (${(await docker('image', 'inspect', '-f', '{{.Id}}', 'orun-test/node:bookworm')).trim().slice(7, 19)}; ` +
        `no Node.js; git present, Caddy and its 5 dependencies installed by apt from a local file repository) to the ` +
        `agent's first sync: **${fmt(ms / 1000, 1)} s** (one run; it includes uploading ${fmt(size / 2 ** 20, 1)} MiB over SSH ` +
        `and the 3 s "stays up" check).`;
    }

    writeSection('sea', [
      '### The single executable (`bench/sea.ts`)',
      '',
      `\`dist/orun-linux-${process.arch}\`: **${fmt(size / 2 ** 20, 1)} MiB** (the pinned Node.js binary is ` +
        `${fmt(nodeSize / 2 ** 20, 1)} MiB with debug info; stripped, plus a ${fmt(statSync(join(ROOT, 'dist/sea/orun.blob')).size / 2 ** 20, 1)} MiB blob: ` +
        `the CommonJS bundle and its V8 code cache). Whole-process wall times, N=${N} alternating runs after ${WARMUP} ` +
        `warm-ups; \`orunctl get deploy\` against a real agent with ${DEPLOYMENTS} Ready busybox Deployments.`,
      machine(),
      '',
      `Load average (1 min) at the start and end of the timed runs: ${loads.map((l) => fmt(l, 1)).join(' → ')}.`,
      '',
      '| measurement | median | p95 | ratio to `node -e` (median) |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
      bootstrapLine,
    ]);
  },
  async () => {
    await agent?.stop();
    ws?.cleanup();
    await node?.remove();
    await dockerd?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  },
);
