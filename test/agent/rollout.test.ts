/**
 * Deploying without dropping requests, end to end: the built agent with its real Caddy, real
 * dockerd, nginx from Debian's package (orun-test/nginx:1), a bounded load loop through Caddy.
 *
 * - RollingUpdate (an internal port, the default): 5 rollouts under load, 0 failed requests, 0
 *   connection resets, and no Caddy config load (the upstream moves by name).
 * - A new version that never becomes ready: removed at its progress deadline, the old one keeps
 *   serving (0 failed requests); status and events name the probe's failure.
 * - Recreate (a fixed host port): the route never answers 503 while the old container still runs.
 * - The node network is removed with the last Deployment and made again for the next one.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
  type ApiObjectView,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { runLoad, type LoadResult } from '../support/load.ts';
import { deploymentEvents, deploymentManifest } from '../support/manifests.ts';
import { freePort } from '../support/net.ts';
import { orunctl } from '../support/orunctl.ts';
import { APP_IMAGES, requireAppImage, requireCommand } from '../support/services.ts';

function serviceManifest(name: string, deployment: string, domain: string): string {
  return stringify({
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Service',
    metadata: { name },
    spec: { deployment, ingress: { domain: { default: domain }, ssl: false } },
  });
}

const readiness = { http: 'localhost:80/health', periodSeconds: 1 };

describe('rollouts behind the ingress (e2e: dist/orun.js, caddy, dockerd, nginx)', () => {
  const prefix = uniquePrefix('ro');
  const node = `${prefix}-node`;
  let repo: TestGitRepo;
  let dataDir = '';
  let agent: AgentProcess;
  let httpPort = 0;

  const dep = (name: string): Promise<ApiObjectView | undefined> => agent.object('deployments', name);

  /** The Deployment serves generation `gen` alone: ready, no rollout in progress. */
  const rolledOut = (name: string, gen: number, timeoutMs = 60_000): Promise<ApiObjectView> =>
    waitFor(
      `${name} rolled out generation ${gen}`,
      async () => {
        const d = await dep(name);
        const st = d?.status;
        const done =
          d?.metadata.generation === gen &&
          st?.observedGeneration === gen &&
          st.ready === true &&
          st.rollout === undefined &&
          condition(d, 'Ready')?.status === 'True';
        return done ? d : undefined;
      },
      timeoutMs,
      () => agent.dump(),
    );

  /** Runs `fn` under load through Caddy as `host`; returns the load's result. */
  const underLoad = async (host: string, fn: () => Promise<void>): Promise<LoadResult> => {
    const stop = new AbortController();
    const load = runLoad({ port: httpPort, host, rps: 20, signal: stop.signal });
    try {
      await fn();
    } finally {
      stop.abort();
    }
    return load;
  };

  beforeAll(async () => {
    requireCommand('caddy', 'caddy', ['version']);
    requireAppImage(APP_IMAGES.nginx);
    const [h, s] = await Promise.all([freePort(), freePort()]);
    httpPort = h;
    repo = new TestGitRepo('orun-rollout-');
    repo.write({ [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare) }).commit('node');
    dataDir = mkdtempSync(join(tmpdir(), 'orun-rollout-'));
    agent = new AgentProcess({ repo: repo.bare, node, dataDir, ingress: { httpPort: h, httpsPort: s } });
  });

  afterAll(async () => {
    // SIGTERM: the agent stops its Caddy (a SIGKILL left the child running, adopted by init).
    await agent?.stop('SIGTERM');
    removeContainers(prefix);
    repo?.cleanup();
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
  });

  it('RollingUpdate: 5 rollouts under load through Caddy, 0 failed requests, 0 connection resets', async () => {
    const name = `${prefix}-web`;
    const host = `${name}.orun.test`;
    const spec = (round: number) => ({
      image: APP_IMAGES.nginx,
      ports: [{ containerPort: 80 }],
      env: { ROUND: String(round) },
      stopGracePeriod: '5s',
      health: { readiness },
    });
    repo
      .write({
        [`deployments/${name}.yaml`]: deploymentManifest(name, spec(0)),
        [`services/${name}.yaml`]: serviceManifest(name, name, host),
      })
      .commit('web');
    await rolledOut(name, 1);
    await waitFor(
      'Caddy routes to web',
      async () => (await agent.object('services', name))?.status?.upstream,
    );

    const logged = (msg: string): number => agent.lines.filter((l) => l.msg === msg).length;
    const loadsBefore = logged('caddy config applied');
    // `orunctl get -w` shows each phase while the old container serves (kubectl rollout status).
    let stopWatch = (): void => undefined;
    const watch = orunctl(['get', 'deploy', name, '-w'], { ORUN_SOCKET: agent.socket }, (_out, stop) => {
      stopWatch = stop;
    });
    const result = await underLoad(host, async () => {
      for (let round = 1; round <= 5; round++) {
        repo
          .write({ [`deployments/${name}.yaml`]: deploymentManifest(name, spec(round)) })
          .commit(`round ${round}`);
        await rolledOut(name, round + 1);
      }
    });
    stopWatch();
    const watched = (await watch).stdout;
    for (const phase of ['Draining', 'Running']) expect(watched).toContain(` ${phase} `);
    expect(result.samples.length).toBeGreaterThan(40);
    const detail = JSON.stringify({ byStatus: result.byStatus, errors: result.errors });
    // Every request answered 2xx: no 502/503 at the switch, and no connection reset (status 0): the
    // upstream moves by name, so Caddy's listeners are never rebound (runtime/caddy/upstreams.ts).
    expect(result.failed, detail).toBe(0);
    expect(result.byStatus['0'] ?? 0, detail).toBe(0);
    // The cause is gone, not just unlucky this run: no Caddy config load during the 5 rollouts.
    expect(logged('caddy config applied') - loadsBefore).toBe(0);
    expect(logged('upstream switched by name (no caddy reload)')).toBeGreaterThanOrEqual(5);

    const reasons = (await deploymentEvents(agent.socket, name)).map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['RollingUpdate', 'TrafficSwitched', 'Killing', 'RolloutComplete']),
    );
    expect((await dep(name))?.status).toMatchObject({ strategy: 'RollingUpdate' });
  });

  it('a new version that never becomes ready is removed at the deadline; the old one serves on, 0 failed requests', async () => {
    const name = `${prefix}-stuck`;
    const host = `${name}.orun.test`;
    const good = { image: APP_IMAGES.nginx, ports: [{ containerPort: 80 }], health: { readiness } };
    repo
      .write({
        [`deployments/${name}.yaml`]: deploymentManifest(name, good),
        [`services/${name}.yaml`]: serviceManifest(name, name, host),
      })
      .commit('stuck: good version');
    const before = await rolledOut(name, 1);

    // A new version (env changed, so a new container) whose readiness never passes.
    const bad = {
      ...good,
      env: { VERSION: 'broken' },
      progressDeadlineSeconds: 6,
      health: { readiness: { http: 'localhost:80/not-there', periodSeconds: 1 } },
    };
    const result = await underLoad(host, async () => {
      repo
        .write({ [`deployments/${name}.yaml`]: deploymentManifest(name, bad) })
        .commit('stuck: never ready');
      await waitFor(
        'Stalled/ProgressDeadlineExceeded',
        async () => condition(await dep(name), 'Stalled')?.reason === 'ProgressDeadlineExceeded',
        60_000,
        () => agent.dump(),
      );
    });
    expect(result.failed, JSON.stringify({ byStatus: result.byStatus, errors: result.errors })).toBe(0);

    const after = await dep(name);
    expect(after?.status).toMatchObject({ ready: true, containerID: before.status?.containerID });
    expect(condition(after, 'Stalled')?.message).toMatch(/HTTP probe failed with statuscode: 404/);
    const events = await deploymentEvents(agent.socket, name);
    const exceeded = events.find((e) => e.reason === 'ProgressDeadlineExceeded');
    expect(exceeded?.type).toBe('Warning');
    expect(exceeded?.message).toMatch(/keeps serving/);
  });

  it('Recreate (a fixed host port): the route never answers 503 while the old container runs', async () => {
    const name = `${prefix}-fixed`;
    const host = `${name}.orun.test`;
    const hostPort = await freePort();
    const spec = (round: number) => ({
      image: APP_IMAGES.nginx,
      ports: [{ containerPort: 80, port: hostPort, hostIP: '127.0.0.1' }],
      env: { ROUND: String(round) },
      stopGracePeriod: '5s',
      health: { readiness },
    });
    repo
      .write({
        [`deployments/${name}.yaml`]: deploymentManifest(name, spec(0)),
        [`services/${name}.yaml`]: serviceManifest(name, name, host),
      })
      .commit('fixed');
    const first = await rolledOut(name, 1);
    expect(first.status).toMatchObject({ strategy: 'Recreate' });
    const oldID = String(first.status?.containerID);

    // When the old container died, from the engine's own event stream.
    const events = spawn('docker', [
      'events',
      '--filter',
      `container=${oldID}`,
      '--filter',
      'event=die',
      '--format',
      '{{.TimeNano}}',
    ]);
    let diedAtNs: bigint | undefined;
    events.stdout
      .setEncoding('utf8')
      .on('data', (d: string) => (diedAtNs ??= BigInt(d.trim().split('\n')[0] ?? '0')));
    const wallAtStart = BigInt(Date.now()) * 1_000_000n;
    const perfAtStart = performance.now();
    try {
      const result = await underLoad(host, async () => {
        repo
          .write({ [`deployments/${name}.yaml`]: deploymentManifest(name, spec(1)) })
          .commit('fixed: round 1');
        await rolledOut(name, 2);
      });
      await waitFor('the old container die event', () => diedAtNs !== undefined, 10_000);
      const diedAt = perfAtStart + Number(((diedAtNs ?? 0n) - wallAtStart) / 1_000_000n);
      const early503 = result.samples.filter((s) => s.status === 503 && s.at + s.latencyMs < diedAt);
      expect(early503, `503 answers before the old container stopped`).toEqual([]);
      expect(result.samples.length).toBeGreaterThan(10);
    } finally {
      events.kill();
    }
  });

  it('a quiet log: the Caddy loads so far (Services added, first readiness, Recreate) left no Caddy WARN or ERROR but proxy errors', () => {
    const loads = agent.lines.filter((l) => l.msg === 'caddy config applied').length;
    expect(loads).toBeGreaterThan(3);
    const loud = agent.lines.filter(
      (l) =>
        l.component === 'caddy' &&
        (l.level === 'warn' || l.level === 'error') &&
        l.caddyLogger !== 'http.log.error' &&
        l.caddyLogger !== 'http.handlers.reverse_proxy',
    );
    expect(loud).toEqual([]);
  });

  it('the node network goes with the last Deployment (pruned), and comes back with the next', async () => {
    const network = `orun-net-${node}`;
    const exists = (): boolean => {
      try {
        execFileSync('docker', ['network', 'inspect', network], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    expect(exists()).toBe(true);
    const files = Object.fromEntries(
      ['web', 'stuck', 'fixed'].flatMap((n) => [
        [`deployments/${prefix}-${n}.yaml`, undefined],
        [`services/${prefix}-${n}.yaml`, undefined],
      ]),
    );
    repo.write(files).commit('remove every Deployment');
    await waitFor(
      `${network} removed (logged)`,
      () => removedLog() === 1,
      60_000,
      () =>
        agent.lines
          .filter((l) => l.controller !== 'node')
          .slice(-80)
          .map((l) => JSON.stringify(l))
          .join('\n'),
    );
    expect(exists()).toBe(false);

    const name = `${prefix}-again`;
    repo
      .write({ [`deployments/${name}.yaml`]: deploymentManifest(name, { image: APP_IMAGES.nginx }) })
      .commit('again');
    await rolledOut(name, 1);
    expect(exists()).toBe(true);
  });

  const removedLog = (): number =>
    agent.lines.filter((l) => l.msg === 'node network removed: no managed container left on this node')
      .length;
});
