// The supervised Caddy killed under load (the built agent, real caddy, real dockerd, nginx from
// Debian's package): each round SIGKILLs the agent's caddy child while clients send requests
// through it on fresh connections. Caddy comes back with the last good config, the app container
// is never touched, and after the rounds a RollingUpdate still switches with 0 failed requests and
// 0 connection resets (the restarted Caddy resolves the upstream through the same UpstreamDNS).
// CHAOS_ROUNDS (default 3) rounds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
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
import { httpGet } from '../support/http.ts';
import { runLoad, type LoadResult } from '../support/load.ts';
import { deploymentManifest } from '../support/manifests.ts';
import { freePort } from '../support/net.ts';
import { APP_IMAGES, requireAppImage, requireCommand } from '../support/services.ts';
import { envCount, recordScenario } from './report.ts';

const ROUNDS = envCount('CHAOS_ROUNDS', 3);

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('chaos: the supervised Caddy is killed under load (e2e: dist/orun.js, caddy, dockerd, nginx)', () => {
  it(`${ROUNDS} SIGKILLs of caddy: it comes back, the app is untouched, a later rollout drops nothing`, async () => {
    requireCommand('caddy', 'caddy', ['version']);
    requireAppImage(APP_IMAGES.nginx);
    const started = Date.now();
    const prefix = uniquePrefix('cc');
    const node = `${prefix}-node`;
    const name = `${prefix}-web`;
    const host = `${name}.orun.test`;
    const repo = new TestGitRepo('orun-chaos-caddy-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-chaos-caddy-'));
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir, ingress: { httpPort, httpsPort } });
    cleanups.push(async () => {
      // SIGTERM: the agent stops its Caddy (a SIGKILL left the child running, adopted by init).
      await agent.stop('SIGTERM');
      removeContainers(prefix);
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const spec = (round: number) => ({
      image: APP_IMAGES.nginx,
      ports: [{ containerPort: 80 }],
      env: { ROUND: String(round) },
      stopGracePeriod: '5s',
      health: { readiness: { http: 'localhost:80/health', periodSeconds: 1 } },
    });
    const service = stringify({
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'Service',
      metadata: { name },
      spec: { deployment: name, ingress: { domain: { default: host }, ssl: false } },
    });
    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`deployments/${name}.yaml`]: deploymentManifest(name, spec(0)),
        [`services/${name}.yaml`]: service,
      })
      .commit('web');
    const rolledOut = (gen: number): Promise<ApiObjectView> =>
      waitFor(
        `${name} serves generation ${gen} alone`,
        async () => {
          const d = await agent.object('deployments', name);
          const st = d?.status;
          const done =
            st?.observedGeneration === gen &&
            st.ready === true &&
            st.rollout === undefined &&
            condition(d, 'Ready')?.status === 'True';
          return done ? d : undefined;
        },
        90_000,
        () => agent.dump(),
      );
    const before = await rolledOut(1);
    await waitFor('Service routed', async () => (await agent.object('services', name))?.status?.upstream);
    const startedAt = (): string =>
      execFileSync('docker', ['inspect', '-f', '{{.State.StartedAt}}', String(before.status?.containerID)], {
        encoding: 'utf8',
      }).trim();
    const appStartedAt = startedAt();
    const caddyUps = (): number => agent.lines.filter((l) => l.msg === 'caddy is up').length;
    const caddyPid = (): number | undefined => {
      try {
        const out = execFileSync('pgrep', ['-P', String(agent.proc.pid), '-x', 'caddy'], {
          encoding: 'utf8',
        });
        return Number(out.trim().split('\n')[0]);
      } catch {
        return undefined;
      }
    };
    const underLoad = async (fn: () => Promise<void>): Promise<LoadResult> => {
      const stop = new AbortController();
      const load = runLoad({ port: httpPort, host, rps: 20, signal: stop.signal });
      try {
        await fn();
      } finally {
        stop.abort();
      }
      return load;
    };

    const table = [['round', 'requests', 'failed (by status, 0 = no answer)', 'longest failure run (ms)']];
    for (let round = 1; round <= ROUNDS; round++) {
      const ups = caddyUps();
      const pid = await waitFor('the caddy child', caddyPid, 30_000, () => agent.dump());
      const result = await underLoad(async () => {
        process.kill(pid, 'SIGKILL');
        await waitFor(
          'caddy is up again',
          () => caddyUps() > ups,
          60_000,
          () => agent.dump(),
        );
        // Back with the last good config: requests are answered again.
        await waitFor(
          'requests through the restarted caddy',
          async () => (await httpGet(httpPort, host).catch(() => undefined))?.status === 200,
          30_000,
          () => agent.dump(),
        );
      });
      table.push([
        String(round),
        String(result.samples.length),
        `${result.failed} ${JSON.stringify(result.byStatus)}`,
        result.longestGapMs.toFixed(0),
      ]);
      expect(caddyPid()).not.toBe(pid);
    }
    // The app container was never touched.
    expect(startedAt()).toBe(appStartedAt);
    expect((await agent.object('deployments', name))?.status?.containerID).toBe(before.status?.containerID);

    // A RollingUpdate through the restarted Caddy: every request answered 2xx, no reset.
    const rollout = await underLoad(async () => {
      repo.write({ [`deployments/${name}.yaml`]: deploymentManifest(name, spec(1)) }).commit('round 1');
      await rolledOut(2);
    });
    const detail = JSON.stringify({ byStatus: rollout.byStatus, errors: rollout.errors });
    expect(rollout.failed, detail).toBe(0);
    expect(rollout.samples.length).toBeGreaterThan(10);
    table.push([
      'RollingUpdate after the kills',
      String(rollout.samples.length),
      `${rollout.failed}`,
      rollout.longestGapMs.toFixed(0),
    ]);

    recordScenario({
      name: 'caddy-killed',
      checked: [
        "each round SIGKILLs the agent's caddy child under 20 requests/s (fresh connections): the supervisor restarts it and it serves the last good config again",
        'the app container is never restarted (same id, same StartedAt)',
        'a RollingUpdate after the kills: 0 failed requests, 0 connection resets (the route resolves its upstream by name through the agent)',
        'requests that fail while Caddy is down are refused connections (status 0); the gap is the restart back-off (1 s, doubling for each crash within a minute of the last start) plus the start of Caddy',
      ],
      table,
      rounds: ROUNDS,
      ms: Date.now() - started,
    });
  }, 600_000);
});
