// Crash loop end to end: `orun start` (dist/orun.js) against a bare repo and the real dockerd. The
// Deployment is built from the Node's codeDir (build-once) and its container exits after a second,
// every time; the agent restarts it with kubelet's back-off (10 s, doubling, capped at 5 min),
// measured here on the real engine from the container's own start and finish times.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containerNameOf,
  removeContainers,
  uniquePrefix,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import {
  builtImages,
  deploymentEvents,
  deploymentManifest,
  eventCount,
  inspectContainer,
  nodeManifest,
  removeBuiltImages,
} from '../support/manifests.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One run of the container: when docker started it, when it exited (if it has), its exit code. */
interface Run {
  startedAt: number;
  finishedAt?: number;
  exitCode?: number;
}

/** The back-off delays the controller's policy gives restarts 1, 2, 3 (10 s doubling). */
const DELAYS_MS = [10_000, 20_000, 40_000];
/** The agent notices an exit from the engine's event stream; allow for that and docker's start. */
const LATE_MS = 4_000;

describe('orun start: crash loop (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('a container built from codeDir that keeps exiting is restarted with growing back-off', async () => {
    requireTestImage();
    const prefix = uniquePrefix('crash');
    const name = `${prefix}-crasher`;
    const node = `${prefix}-node`;
    const repo = new TestGitRepo('orun-agent-crash-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-crash-'));
    const codeDir = mkdtempSync(join(tmpdir(), 'orun-code-crash-'));
    cleanups.push(() => {
      removeContainers(prefix);
      removeBuiltImages(name);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(codeDir, { recursive: true, force: true });
    });
    mkdirSync(join(codeDir, 'crasher'));
    writeFileSync(
      join(codeDir, 'crasher', 'Dockerfile'),
      `FROM ${TEST_IMAGE}\nCMD ["sh", "-c", "sleep 1; exit 3"]\n`,
    );
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeManifest(node, repo.bare, { codeDir }),
        [`deployments/${name}.yaml`]: deploymentManifest(name, { build: { context: 'crasher' } }),
      })
      .commit('a deployment that crashes');
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const cname = (): string => containerNameOf(name) ?? `orun-${name}`;

    // Sample the container (every 100 ms) and the Deployment's Ready condition until the fourth
    // run (first start + 3 restarts) has exited and the agent reports the next back-off.
    const runs: Run[] = [];
    const readyMessages = new Set<string>();
    let containerID: string | undefined;
    const deadline = Date.now() + 130_000;
    for (;;) {
      const c = inspectContainer(cname());
      if (c !== undefined && c.startedAt !== '0001-01-01T00:00:00Z') {
        containerID ??= c.id;
        expect(c.id, 'the crashed container is restarted, not replaced').toBe(containerID);
        const startedAt = Date.parse(c.startedAt);
        let run = runs.at(-1);
        if (run?.startedAt !== startedAt) {
          run = { startedAt };
          runs.push(run);
        }
        if (!c.running && c.status === 'exited') {
          run.finishedAt = Date.parse(c.finishedAt);
          run.exitCode = c.exitCode;
        }
      }
      const ready = condition(await agent.object('deployments', name), 'Ready');
      if (ready?.status === 'False' && ready.reason === 'CrashLoopBackOff') readyMessages.add(ready.message);
      if (runs.length >= 4 && runs[3]?.finishedAt !== undefined && readyMessages.size >= 4) break;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for 4 runs and their back-offs: runs ${JSON.stringify(runs)}, ` +
            `Ready messages ${JSON.stringify([...readyMessages])}\n${agent.dump()}`,
        );
      await sleep(100);
    }

    // Each run lasted the 1 s sleep and exited with code 3.
    for (const r of runs.slice(0, 4)) {
      expect(r.exitCode).toBe(3);
      expect((r.finishedAt ?? 0) - r.startedAt).toBeGreaterThanOrEqual(900);
    }
    // Restart n waited the policy's delay after the exit before it: 10 s, 20 s, 40 s.
    const delays = DELAYS_MS.map((_, i) => (runs[i + 1]?.startedAt ?? 0) - (runs[i]?.finishedAt ?? 0));
    const gaps = DELAYS_MS.map((_, i) => (runs[i + 1]?.startedAt ?? 0) - (runs[i]?.startedAt ?? 0));
    const facts = JSON.stringify({ delays, gaps, runs });
    DELAYS_MS.forEach((want, i) => {
      expect(delays[i], facts).toBeGreaterThanOrEqual(want - 500);
      expect(delays[i], facts).toBeLessThan(want + LATE_MS);
    });
    // Start to start, the gaps grow (each roughly doubles).
    expect(gaps[1], facts).toBeGreaterThan(1.5 * (gaps[0] ?? 0));
    expect(gaps[2], facts).toBeGreaterThan(1.5 * (gaps[1] ?? 0));

    // Status: Ready=False/Stalled=True with CrashLoopBackOff naming the exit and the next delay,
    // which doubled every time (the fourth exit waits 80 s; the 5 min cap is the unit tests').
    const d = await agent.object('deployments', name);
    expect(condition(d, 'Ready')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(condition(d, 'Stalled')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(d?.status?.restarts).toBe(3);
    expect(d?.status?.containerID).toBe(containerID);
    expect([...readyMessages]).toEqual(
      ['10s', '20s', '40s', '1m20s'].map(
        (t) => `container exited with code 3; back-off ${t} restarting failed container`,
      ),
    );

    // Events: one Warning BackOff per exit, one Started per run; built once, never rebuilt.
    const evs = await deploymentEvents(agent.socket, name);
    const backoffs = evs.filter((e) => e.reason === 'BackOff');
    expect(backoffs.every((e) => e.type === 'Warning')).toBe(true);
    expect(backoffs.map((e) => e.message)).toEqual(
      ['10s', '20s', '40s', '1m20s'].map(
        (t) => `Back-off ${t} restarting failed container (exited with code 3)`,
      ),
    );
    expect(eventCount(evs, 'Started')).toBe(4);
    expect(eventCount(evs, 'Building')).toBe(1);
    expect(eventCount(evs, 'Built')).toBe(1);
    const images = builtImages(name);
    expect(images).toHaveLength(1);
    expect(images[0]).toMatch(new RegExp(`^orun-build/${name}:[0-9a-f]{12}$`));
    expect(d?.status?.image).toBe(images[0]);

    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 180_000);
});
