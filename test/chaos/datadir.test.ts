// The data dir full: the agent runs with a small tmpfs as --data-dir (its Git repository, its
// last good objects, its keys). Two ways to be full: no room at all (the next fetch fails), and
// room for the fetch but not for last-good.json (the save fails). Each must say so on the Node,
// lose nothing (the containers run on, the previous last-good.json stays intact), and recover by
// itself when space returns.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { requireTestImage } from '../support/services.ts';
import { getProbe, probePort } from './probe.ts';
import { recordScenario } from './report.ts';

const DEPLOYMENTS = 3;
/** Per Deployment: an annotation that Git compresses to almost nothing but last-good.json keeps whole. */
const PADDING = 200_000;
const TMPFS = '8m';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function deployment(name: string, v: string): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    '  annotations:',
    `    padding: ${'x'.repeat(PADDING)}`,
    'spec:',
    '  image: orun-test/busybox:1',
    '  env:',
    `    V: "${v}"`,
    '  health:',
    '    readiness:',
    '      http: localhost:80/health',
    '',
  ].join('\n');
}

/** Fills `dir` up: one big file to 1 MiB short, then 64 KiB chunks, so space can be given back a little at a time. */
function fill(dir: string): string[] {
  const mib = Math.floor(free(dir) / 2 ** 20) - 1;
  if (mib > 0)
    execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=1M', `count=${mib}`], {
      stdio: 'ignore',
    });
  const chunks: string[] = [];
  for (let i = 0; ; i++) {
    const f = join(dir, `chunk-${i}`);
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${f}`, 'bs=64k', 'count=1'], { stdio: 'ignore' });
      chunks.push(f);
    } catch {
      rmSync(f, { force: true });
      break;
    }
  }
  try {
    // the last few KiB, kept: nothing at all is left
    execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'tail')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // ENOSPC: full
  }
  return chunks;
}

function free(dir: string): number {
  const out = execFileSync('df', ['-B1', '--output=avail', dir], { encoding: 'utf8' });
  return Number(out.trim().split('\n')[1]);
}

describe('chaos: the data dir full (a small tmpfs as --data-dir)', () => {
  it('no room at all, then no room for last-good.json: said on the Node, nothing lost, recovers when space returns', async () => {
    const started = Date.now();
    requireTestImage();
    const prefix = uniquePrefix('full');
    const repo = new TestGitRepo('orun-chaos-full-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-chaos-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS},mode=0700`, 'tmpfs', dataDir]);
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      execFileSync('umount', ['-l', dataDir]);
      rmSync(dataDir, { recursive: true, force: true });
    });
    const node = `${prefix}-node`;
    const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `${prefix}-d${i}`);
    const write = (v: string): string => {
      const files: Record<string, string> = { [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare) };
      for (const n of names) files[`deployments/${n}.yaml`] = deployment(n, n === names[0] ? v : '0');
      return repo.write(files).commit(`v${v}`);
    };
    write('0');
    let agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const converged = (v: string): Promise<boolean> =>
      waitFor(
        `every Deployment Ready, ${names[0]} at V=${v}`,
        async () => {
          const cs = containersWithPrefix(prefix);
          if (cs.length !== DEPLOYMENTS || !cs.every((c) => c.running)) return false;
          if (!cs.some((c) => c.deployment === names[0] && c.env.includes(`V=${v}`))) return false;
          for (const n of names)
            if (condition(await agent.object('deployments', n), 'Ready')?.status !== 'True') return false;
          return true;
        },
        120_000,
        () => agent.dump(),
      );
    const nodeCondition = async (type: string) => condition(await agent.object('nodes', node), type);
    const lastGood = join(dataDir, 'state', 'last-good.json');
    const savedV = (): string | undefined => {
      const saved = JSON.parse(readFileSync(lastGood, 'utf8')) as {
        files: Record<string, { spec: { env: { V: string } } }[]>;
      };
      return saved.files[`deployments/${names[0]}.yaml`]?.[0]?.spec.env.V;
    };
    await converged('0');
    await waitFor('last-good.json saved at V=0', () => existsSync(lastGood) && savedV() === '0');
    const port = await probePort(agent);
    const table = [
      [
        'case',
        'what the Node said',
        'containers untouched',
        '/healthz while full',
        'last-good.json',
        'recovered after space returned',
      ],
    ];

    // 1. No room at all: the fetch of the next commit fails; nothing else changes.
    let steady = containersWithPrefix(prefix);
    const chunks = fill(dataDir);
    write('1');
    const git = await waitFor(
      'GitSynced=False naming the full disk',
      async () => {
        const c = await nodeCondition('GitSynced');
        return c?.status === 'False' ? c : undefined;
      },
      60_000,
      () => agent.dump(),
    );
    expect(git.message).toMatch(/No space left on device/i);
    const health = await getProbe(port, '/healthz');
    expect(health.status).toBe(200);
    expect(containersWithPrefix(prefix)).toEqual(steady);
    expect(savedV()).toBe('0');
    for (const f of ['filler', 'tail']) rmSync(join(dataDir, f), { force: true });
    for (const c of chunks) rmSync(c, { force: true });
    let back = Date.now();
    await converged('1');
    await waitFor('GitSynced=True', async () => (await nodeCondition('GitSynced'))?.status === 'True');
    table.push([
      'no room at all',
      `GitSynced=False/${git.reason}: …No space left on device…`,
      'yes',
      String(health.status),
      'previous copy intact (V=0)',
      `${((Date.now() - back) / 1000).toFixed(1)} s`,
    ]);

    // 2. Room for the fetch, not for a new last-good.json (written beside the old one, then renamed).
    steady = containersWithPrefix(prefix);
    const more = fill(dataDir);
    for (const c of more.splice(0, 5)) unlinkSync(c); // ~320 KiB free: a fetch fits, 600 KB does not
    const room = free(dataDir);
    write('2');
    const state = await waitFor(
      'StateSaved=False',
      async () => {
        const c = await nodeCondition('StateSaved');
        return c?.status === 'False' ? c : undefined;
      },
      60_000,
      () =>
        `${room} bytes free before the commit\n` +
        agent.lines
          .filter((l) => l.level !== 'debug')
          .slice(-40)
          .map((l) => JSON.stringify(l))
          .join('\n'),
    );
    expect(state.message).toMatch(/ENOSPC/);
    await converged('2'); // the change itself is applied: only its copy on disk waits
    expect(savedV()).toBe('1'); // the previous copy is intact
    const health2 = await getProbe(port, '/healthz');
    expect(health2.status).toBe(200);
    const untouched = containersWithPrefix(prefix).filter((c) => c.deployment !== names[0]);
    expect(untouched).toEqual(steady.filter((c) => c.deployment !== names[0]));
    for (const f of ['filler', 'tail']) rmSync(join(dataDir, f), { force: true });
    for (const c of more) rmSync(c, { force: true });
    back = Date.now();
    await waitFor('StateSaved=True and last-good.json at V=2', async () => {
      return (await nodeCondition('StateSaved'))?.status === 'True' && savedV() === '2';
    });
    table.push([
      `room for the fetch only (${Math.round(room / 1024)} KiB free)`,
      `StateSaved=False/${state.reason}: …ENOSPC…`,
      'yes (the changed one rolled as committed)',
      String(health2.status),
      'previous copy intact (V=1), then V=2',
      `${((Date.now() - back) / 1000).toFixed(1)} s`,
    ]);

    // A restart afterwards restarts nothing.
    steady = containersWithPrefix(prefix);
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    await converged('2');
    expect(containersWithPrefix(prefix)).toEqual(steady);
    await agent.stop('SIGTERM');

    recordScenario({
      name: 'data-dir-full',
      checked: [
        `--data-dir is a ${TMPFS} tmpfs holding the Git repository, the keys and last-good.json (${DEPLOYMENTS} Deployments with ${PADDING / 1000} kB of annotations each, so last-good.json is large and the Git objects small)`,
        'no room at all: the next commit cannot be fetched; the Node says GitSynced=False with "No space left on device"; no container changes; /healthz answers; last-good.json keeps the previous revision',
        'room for the fetch only: the commit is applied (from memory) but last-good.json cannot be written; the Node says StateSaved=False (ENOSPC) and the previous copy stays intact',
        'space back: the fetch and the save are retried on their own (no restart, no commit); a restart afterwards restarts nothing',
      ],
      table,
      ms: Date.now() - started,
    });
  }, 600_000);
});
