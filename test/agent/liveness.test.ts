// Liveness end to end: `orun start` (dist/orun.js) against a bare repo and the real dockerd. The
// container serves a host directory; deleting its `alive` file makes the liveness probe fail, and
// the agent stops the container; the crash back-off (10 s first) starts it again in place (same id,
// new StartedAt), as the kubelet does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containerNameOf,
  removeContainers,
  uniquePrefix,
  waitFor,
  type ApiObjectView,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import {
  deploymentEvents,
  deploymentManifest,
  eventCount,
  inspectContainer,
  nodeManifest,
} from '../support/manifests.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('orun start: liveness (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('a failing liveness probe restarts the container in place; once it passes again it stays up', async () => {
    requireTestImage();
    const prefix = uniquePrefix('live');
    const name = `${prefix}-web`;
    const node = `${prefix}-node`;
    const repo = new TestGitRepo('orun-agent-live-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-live-'));
    const www = mkdtempSync(join(tmpdir(), 'orun-www-live-'));
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(www, { recursive: true, force: true });
    });
    writeFileSync(join(www, 'index.html'), '<h1>liveness test</h1>\n');
    writeFileSync(join(www, 'health'), 'ok\n');
    const alive = join(www, 'alive');
    writeFileSync(alive, 'yes\n');

    repo
      .write({
        [`nodes/${node}.yaml`]: nodeManifest(node, repo.bare),
        [`deployments/${name}.yaml`]: deploymentManifest(name, {
          image: TEST_IMAGE,
          volumes: [{ hostPath: www, containerPath: '/www', readOnly: true }],
          health: {
            readiness: { http: 'localhost:80/health' },
            liveness: { http: 'localhost:80/alive', periodSeconds: 1, failureThreshold: 2 },
          },
        }),
      })
      .commit('a deployment with a liveness probe');
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const deployment = (): Promise<ApiObjectView | undefined> => agent.object('deployments', name);
    const events = () => deploymentEvents(agent.socket, name);
    const cname = (): string => containerNameOf(name) ?? `orun-${name}`;
    /** Waits until `n` more liveness probes ran (the count of the agent's probe-duration histogram). */
    const probesPass = async (n: number): Promise<void> => {
      const count = async (): Promise<number> =>
        (await agent.metric('orun_probe_duration_seconds_count', { deployment: name, probe: 'liveness' })) ??
        0;
      const from = await count();
      await waitFor(
        `${n} more liveness probes`,
        async () => (await count()) >= from + n,
        60_000,
        () => agent.dump(),
      );
    };

    await waitFor(
      `Deployment ${name} Ready=True`,
      async () => condition(await deployment(), 'Ready')?.status === 'True',
      60_000,
      () => agent.dump(),
    );
    const first = inspectContainer(cname());
    expect(first?.running, agent.dump()).toBe(true);
    // Several liveness periods pass with the probe succeeding (counted on the agent's probe
    // metric, not timed): nothing is restarted.
    await probesPass(3);
    const healthy = await deployment();
    expect(inspectContainer(cname())?.startedAt).toBe(first?.startedAt);
    expect(healthy?.status?.restarts).toBe(0);
    expect(healthy?.status?.lastProbe).toMatchObject({ probe: 'liveness', ok: true });
    expect(eventCount(await events(), 'Unhealthy')).toBe(0);

    // The probe starts failing: after failureThreshold (2) periods of 1 s the container is stopped.
    const brokeAt = Date.now();
    rmSync(alive);
    const backingOff = await waitFor(
      'stopped for failing liveness, in CrashLoopBackOff',
      async () => {
        const d = await deployment();
        const ready = condition(d, 'Ready');
        return ready?.reason === 'CrashLoopBackOff' && inspectContainer(cname())?.running === false
          ? ready
          : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    const killedAt = Date.now();
    expect(killedAt - brokeAt).toBeLessThan(10_000);
    expect(backingOff.status).toBe('False');
    expect(backingOff.message).toMatch(/killed after failing its liveness probe; back-off 10s/);
    // Fixed while it waits out its back-off; it starts again after about 10 s.
    writeFileSync(alive, 'yes again\n');
    const restarted = await waitFor(
      'the container restarted after failing liveness',
      () => {
        const c = inspectContainer(cname());
        return c !== undefined && c.startedAt !== first?.startedAt ? c : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    const backoffMs = Date.now() - killedAt;
    // Started again in place: the same container (and id).
    expect(restarted.id).toBe(first?.id);
    expect(backoffMs).toBeGreaterThanOrEqual(7_000);
    expect(backoffMs).toBeLessThan(20_000);

    const ready = await waitFor(
      'Ready=True again with restarts=1',
      async () => {
        const d = await deployment();
        return condition(d, 'Ready')?.status === 'True' && d?.status?.restarts === 1 ? d : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    expect(ready.status?.containerID).toBe(first?.id);
    expect(ready.status?.startedAt).toBe(restarted.startedAt);

    const evs = await events();
    const unhealthy = evs.filter((e) => e.reason === 'Unhealthy');
    expect(unhealthy.length, JSON.stringify(evs)).toBeGreaterThan(0);
    expect(unhealthy.every((e) => e.type === 'Warning')).toBe(true);
    expect(unhealthy[0]?.message).toMatch(/^Liveness probe failed: /);
    // At least failureThreshold failures were reported before the restart.
    expect(eventCount(evs, 'Unhealthy')).toBeGreaterThanOrEqual(2);
    const killed = evs.filter((e) => e.reason === 'Killed');
    expect(killed).toHaveLength(1);
    expect(killed[0]).toMatchObject({ type: 'Normal', count: 1 });
    expect(killed[0]?.message).toBe(`Container ${cname()} failed liveness probe 2 times, will be restarted`);
    expect(evs.filter((e) => e.reason === 'BackOff')).toMatchObject([
      {
        type: 'Warning',
        count: 1,
        message: 'Back-off 10s restarting failed container (was killed after failing its liveness probe)',
      },
    ]);

    // It stays up: several more periods, liveness passing, no further restart or failure.
    const unhealthyAfter = eventCount(evs, 'Unhealthy');
    await probesPass(5);
    const settled = await deployment();
    expect(inspectContainer(cname())).toMatchObject({
      id: first?.id,
      running: true,
      startedAt: restarted.startedAt,
    });
    expect(condition(settled, 'Ready')?.status).toBe('True');
    expect(settled?.status?.restarts).toBe(1);
    expect(settled?.status?.lastProbe).toMatchObject({ probe: 'liveness', ok: true });
    const later = await events();
    expect(eventCount(later, 'Unhealthy')).toBe(unhealthyAfter);
    expect(eventCount(later, 'Killed')).toBe(1);

    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
