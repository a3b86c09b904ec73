// Crash loop end to end: `orun start` (dist/orun.js) against a bare repo and the real dockerd. The
// Deployment is built from the Node's codeDir (build-once) and its container exits after a second,
// every time; the agent restarts it with kubelet's back-off, doubling from an injected short first
// delay (`--crash-backoff 2s`; backoff.test.ts covers the exact delays of the default policy).
// The test follows the engine's own start/die events (docker events) and asserts their order.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess, condition, removeContainers, uniquePrefix, waitFor } from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import {
  builtImages,
  deploymentEvents,
  deploymentManifest,
  eventCount,
  nodeManifest,
  removeBuiltImages,
} from '../support/manifests.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A start or die of one of the Deployment's containers, as the engine reported it. */
interface EngineEvent {
  action: 'start' | 'die';
  id: string;
  exitCode?: number;
}

/**
 * Follows the engine's start and die events of a Deployment's containers (`docker events`, by the
 * `run.orcra.dev/deployment` label) as they happen. `until(fn)` resolves once the events seen
 * satisfy `fn`, checked at each new event, never on a timer.
 */
function engineEvents(deployment: string) {
  const seen: EngineEvent[] = [];
  const waiters: (() => void)[] = [];
  const child = spawn(
    'docker',
    [
      'events',
      '--filter',
      `label=run.orcra.dev/deployment=${deployment}`,
      '--filter',
      'event=start',
      '--filter',
      'event=die',
      '--format',
      '{{json .}}',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line) as {
      Action: string;
      Actor: { ID: string; Attributes?: { exitCode?: string } };
    };
    const code = e.Actor?.Attributes?.exitCode;
    seen.push({
      action: e.Action === 'die' ? 'die' : 'start',
      id: e.Actor.ID,
      ...(code === undefined ? {} : { exitCode: Number(code) }),
    });
    for (const w of waiters.splice(0)) w();
  });
  const until = async (what: string, fn: (s: readonly EngineEvent[]) => boolean): Promise<void> => {
    while (!fn(seen)) {
      if (child.exitCode !== null)
        throw new Error(`docker events ended before ${what}: ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { seen, until, stop: () => child.kill() };
}

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
    // Follow the engine from before the agent starts, so the first start is seen too.
    const engine = engineEvents(name);
    cleanups.push(() => {
      engine.stop();
    });
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir, extraArgs: ['--crash-backoff', '2s'] });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });

    // Four runs (first start + 3 restarts) end; meanwhile the Ready condition names each back-off.
    const readyMessages = new Set<string>();
    const deaths = (s: readonly EngineEvent[]): number => s.filter((e) => e.action === 'die').length;
    const fourDeaths = engine.until('four runs ended', (s) => deaths(s) >= 4);
    await waitFor(
      'four CrashLoopBackOff messages on Ready',
      async () => {
        const ready = condition(await agent.object('deployments', name), 'Ready');
        if (ready?.status === 'False' && ready.reason === 'CrashLoopBackOff')
          readyMessages.add(ready.message);
        return readyMessages.size >= 4;
      },
      120_000,
      () => `${JSON.stringify(engine.seen)}\n${agent.dump()}`,
    );
    await fourDeaths;

    // In order: start, die (code 3), start, die, ... of one container, restarted, never replaced.
    const runs = engine.seen.slice(0, 8);
    const facts = JSON.stringify(engine.seen);
    expect(
      runs.map((e) => e.action),
      facts,
    ).toEqual(['start', 'die', 'start', 'die', 'start', 'die', 'start', 'die']);
    const containerID = runs[0]?.id;
    expect(new Set(runs.map((e) => e.id)), 'the crashed container is restarted, not replaced').toEqual(
      new Set([containerID]),
    );
    expect(runs.filter((e) => e.action === 'die').map((e) => e.exitCode)).toEqual([3, 3, 3, 3]);

    // Status: Ready=False/Stalled=True with CrashLoopBackOff naming the exit and the next delay,
    // which doubled every time from the injected 2 s (the 5 min cap is the unit tests').
    const d = await agent.object('deployments', name);
    expect(condition(d, 'Ready')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(condition(d, 'Stalled')).toMatchObject({ status: 'True', reason: 'CrashLoopBackOff' });
    expect(d?.status?.restarts).toBe(3);
    expect(d?.status?.containerID).toBe(containerID);
    expect([...readyMessages]).toEqual(
      ['2s', '4s', '8s', '16s'].map(
        (t) => `container exited with code 3; back-off ${t} restarting failed container`,
      ),
    );

    // Events: one Warning BackOff per exit, one Started per run; built once, never rebuilt.
    const evs = await deploymentEvents(agent.socket, name);
    const backoffs = evs.filter((e) => e.reason === 'BackOff');
    expect(backoffs.every((e) => e.type === 'Warning')).toBe(true);
    expect(backoffs.map((e) => e.message)).toEqual(
      ['2s', '4s', '8s', '16s'].map((t) => `Back-off ${t} restarting failed container (exited with code 3)`),
    );
    expect(eventCount(evs, 'Started')).toBe(4);
    expect(eventCount(evs, 'Building')).toBe(1);
    expect(eventCount(evs, 'Built')).toBe(1);
    const images = builtImages(name);
    expect(images).toHaveLength(1);
    expect(images[0]).toMatch(new RegExp(`^orun-build/${name}:[0-9a-f]{12}$`));
    expect(d?.status?.image).toBe(images[0]);

    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 150_000);
});
