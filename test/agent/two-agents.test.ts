// Two agents on one engine (issue 12, guards): nodes `a` and `b` track one repository whose
// Deployment selects every node. The engine is a private dockerd (its own bridge and address pool:
// every node gets a network orun-net-<node>, and the shared engine's pools run out when tests
// leak networks). Each runs its own container (orun-<dep>_<node>_<hash8>, labelled
// with its node), neither collides with nor prunes the other's, and stopping one leaves the
// other's container alone. A third agent with a mistyped --node reconciles nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { startDockerd } from '../bootstrap/support.ts';
import { AgentProcess, condition, uniquePrefix, waitFor } from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { deploymentManifest, nodeManifest } from '../support/manifests.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('two agents on one engine (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('never collide on container names nor touch each other; a typo reconciles nothing', async () => {
    requireTestImage();
    const prefix = uniquePrefix('two');
    const dep = `${prefix}-web`;
    const [a, b] = [`${prefix}-a`, `${prefix}-b`];
    const repo = new TestGitRepo('orun-agent-two-');
    const dirs = [a, b, 'typo'].map((n) => mkdtempSync(join(tmpdir(), `orun-data-${n}-`)));
    cleanups.push(() => {
      repo.cleanup();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    const engineDir = mkdtempSync(join(tmpdir(), 'orun-two-dockerd-'));
    cleanups.push(() => rmSync(engineDir, { recursive: true, force: true }));
    const dockerd = await startDockerd(engineDir, [
      '--default-address-pool',
      `base=10.${randomInt(100, 200)}.0.0/16,size=24`,
    ]);
    cleanups.push(() => dockerd.stop());
    const dk = (...args: string[]) =>
      execFileSync('docker', ['-H', `unix://${dockerd.socket}`, ...args], { encoding: 'utf8' });
    execFileSync('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${dockerd.socket} load -q`]);
    const running = (): { name: string; id: string; startedAt: string }[] =>
      dk('ps', '-q', '--filter', `label=run.orcra.dev/deployment=${dep}`)
        .split('\n')
        .filter(Boolean)
        .map((id) => {
          const [name = '', startedAt = ''] = dk('inspect', '-f', '{{.Name}} {{.State.StartedAt}}', id)
            .trim()
            .split(' ');
          return { name: name.slice(1), id, startedAt };
        })
        .sort((x, y) => (x.name < y.name ? -1 : 1));
    const env = { DOCKER_HOST: `unix://${dockerd.socket}` };
    repo
      .write({
        [`nodes/${a}.yaml`]: nodeManifest(a, repo.bare),
        [`nodes/${b}.yaml`]: nodeManifest(b, repo.bare),
        [`deployments/${dep}.yaml`]: deploymentManifest(dep, { image: TEST_IMAGE }),
      })
      .commit('two nodes, one Deployment for both');
    const agents = [a, b].map(
      (node, i) => new AgentProcess({ repo: repo.bare, node, dataDir: dirs[i]!, env }),
    );
    for (const agent of agents) cleanups.push(() => agent.stop('SIGKILL'));
    for (const [i, agent] of agents.entries())
      await waitFor(
        `${dep} Ready on ${[a, b][i]}`,
        async () => condition(await agent.object('deployments', dep), 'Ready')?.status === 'True',
        60_000,
        () => agent.dump(),
      );
    const before = running();
    expect(before.map((c) => c.name.replace(/_[0-9a-f]{8}$/, ''))).toEqual([
      `orun-${dep}_${a}`,
      `orun-${dep}_${b}`,
    ]);

    // A mistyped node name: refuses, names the nodes; the two containers stay as they are.
    const typo = new AgentProcess({ repo: repo.bare, node: `${prefix}-c`, dataDir: dirs[2]!, env });
    cleanups.push(() => typo.stop('SIGKILL'));
    const ready = await waitFor(
      'the typo agent refusing',
      async () => {
        const c = condition(await typo.object('nodes', `${prefix}-c`), 'Ready');
        return c?.reason === 'UnknownNode' ? c : undefined;
      },
      60_000,
      () => typo.dump(),
    );
    expect(ready.message).toContain(`the repository's nodes are ${a}, ${b}`);
    expect(await typo.object('deployments', dep)).toBeUndefined();

    // Stopping a's agent leaves b's container (and a's) untouched.
    await agents[0]!.stop('SIGTERM');
    expect(running()).toEqual(before);
  });
});
