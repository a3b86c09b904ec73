// `orun start` end to end: real git (a bare repo as the remote), real dockerd, the built
// dist/orun.js as a child process. Each test names its Deployments with a unique prefix, so its
// containers (`orun-<prefix>...`) are its own, and removes only those.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
  waitForPolls,
  type ContainerFacts,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  prefix: string;
  repo: TestGitRepo;
  dataDir: string;
  node: string;
  a: string;
  b: string;
  start(): AgentProcess;
}

function setup(tag: string): Setup {
  requireTestImage();
  const prefix = uniquePrefix(tag);
  const repo = new TestGitRepo(`orun-agent-${tag}-`);
  const dataDir = mkdtempSync(join(tmpdir(), `orun-data-${tag}-`));
  const node = `${prefix}-node`;
  const s: Setup = {
    prefix,
    repo,
    dataDir,
    node,
    a: `${prefix}-a`,
    b: `${prefix}-b`,
    start: () => {
      const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
      cleanups.push(async () => {
        await agent.stop('SIGKILL');
      });
      return agent;
    },
  };
  cleanups.push(() => {
    removeContainers(prefix);
    repo.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return s;
}

function byName(prefix: string): Map<string, ContainerFacts> {
  return new Map(containersWithPrefix(prefix).map((c) => [c.deployment, c]));
}

async function waitReady(agent: AgentProcess, names: string[], timeoutMs = 60_000): Promise<void> {
  for (const n of names) {
    await waitFor(
      `Deployment ${n} Ready=True`,
      async () => condition(await agent.object('deployments', n), 'Ready')?.status === 'True',
      timeoutMs,
      () => agent.dump(),
    );
  }
}

describe('orun start (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('applies commits: two Deployments ready; env change replaces only one; removal prunes; a broken file touches nothing', async () => {
    const s = setup('a');
    s.repo
      .write({
        [`nodes/${s.node}.yaml`]: nodeYaml(s.node, s.repo.bare),
        [`deployments/${s.a}.yaml`]: deploymentYaml(s.a, { COLOR: 'blue' }),
        [`deployments/${s.b}.yaml`]: deploymentYaml(s.b, { COLOR: 'green' }),
      })
      .commit('two deployments');
    const agent = s.start();
    await waitReady(agent, [s.a, s.b]);
    const first = byName(s.prefix);
    expect([...first.keys()]).toEqual([s.a, s.b]);
    expect([...first.values()].every((c) => c.running)).toBe(true);

    // Change a's env: a is replaced, b is untouched.
    const c2 = s.repo
      .write({ [`deployments/${s.a}.yaml`]: deploymentYaml(s.a, { COLOR: 'red' }) })
      .commit('a: red');
    await waitFor(
      'a replaced with COLOR=red',
      () => byName(s.prefix).get(s.a)?.env.includes('COLOR=red'),
      60_000,
      () => agent.dump(),
    );
    await waitReady(agent, [s.a]);
    const second = byName(s.prefix);
    expect(second.get(s.a)?.id).not.toBe(first.get(s.a)?.id);
    expect(second.get(s.b)).toEqual(first.get(s.b));
    await waitFor('node revision at the second commit', async () =>
      (await agent.object('nodes', s.node))?.status?.revision?.endsWith(c2),
    );

    // Remove b: pruned; a untouched.
    s.repo.write({ [`deployments/${s.b}.yaml`]: undefined }).commit('remove b');
    await waitFor(
      'b pruned',
      () => !byName(s.prefix).has(s.b),
      60_000,
      () => agent.dump(),
    );
    expect(byName(s.prefix).get(s.a)).toEqual(second.get(s.a));

    // Break a's file (bad YAML on line 4): a keeps running as it was; the error names its line.
    const broken = `deployments/${s.a}.yaml`;
    s.repo
      .write({
        [broken]: 'apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: [oops\nspec: {}\n',
      })
      .commit('typo');
    const node = await waitFor(
      'Node ManifestsValid=False with the broken file',
      async () => {
        const n = await agent.object('nodes', s.node);
        return condition(n, 'ManifestsValid')?.status === 'False' ? n : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    const errors = node.status?.sourceErrors ?? [];
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: broken });
    expect(errors[0]?.line).toBeGreaterThanOrEqual(4);
    expect(condition(node, 'ManifestsValid')?.message).toContain(`${broken}:`);
    const logged = agent.lines.find(
      (l) => l.msg === 'manifest error' && String(l.error).startsWith(`${broken}:`),
    );
    expect(logged, agent.dump()).toBeDefined();
    // Three polls later nothing was touched (waited on the agent's own poll counter, not on time).
    await waitForPolls(agent, 3);
    expect(byName(s.prefix).get(s.a)).toEqual(second.get(s.a));
    expect(condition(await agent.object('deployments', s.a), 'Ready')?.status).toBe('True');

    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    // SIGTERM leaves managed containers running.
    expect(byName(s.prefix).get(s.a)?.running).toBe(true);
  });

  it('SIGKILL mid-reconcile then restart converges without duplicates; a healthy restart restarts nothing', async () => {
    const s = setup('b');
    s.repo
      .write({
        [`nodes/${s.node}.yaml`]: nodeYaml(s.node, s.repo.bare),
        [`deployments/${s.a}.yaml`]: deploymentYaml(s.a),
        [`deployments/${s.b}.yaml`]: deploymentYaml(s.b),
      })
      .commit('two deployments');
    const first = s.start();
    await waitFor(
      'a container created',
      () => containersWithPrefix(s.prefix).length > 0,
      60_000,
      () => first.dump(),
    );
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');

    const second = s.start();
    await waitReady(second, [s.a, s.b]);
    const converged = containersWithPrefix(s.prefix);
    expect(converged.map((c) => c.deployment)).toEqual([s.a, s.b]);
    expect(converged.every((c) => c.running)).toBe(true);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const third = s.start();
    await waitReady(third, [s.a, s.b]);
    // Several polls later nothing changed (waited on the agent's poll counter, not on time).
    await waitForPolls(third, 3);
    expect(containersWithPrefix(s.prefix)).toEqual(converged);
    expect(await third.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('remote unreachable: containers keep running and GitSynced=False; remote back: the next change is applied', async () => {
    const s = setup('c');
    s.repo
      .write({
        [`nodes/${s.node}.yaml`]: nodeYaml(s.node, s.repo.bare),
        [`deployments/${s.a}.yaml`]: deploymentYaml(s.a, { V: '1' }),
      })
      .commit('one deployment');
    const agent = s.start();
    await waitReady(agent, [s.a]);
    const before = containersWithPrefix(s.prefix);

    s.repo.hideRemote();
    const down = await waitFor(
      'GitSynced=False',
      async () => {
        const c = condition(await agent.object('nodes', s.node), 'GitSynced');
        return c?.status === 'False' ? c : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    expect(down.reason).toBe('GitOperationFailed');
    expect(containersWithPrefix(s.prefix)).toEqual(before);

    s.repo.write({ [`deployments/${s.a}.yaml`]: deploymentYaml(s.a, { V: '2' }) });
    s.repo.restoreRemote();
    s.repo.commit('v2');
    await waitFor(
      'the change applied after the remote came back',
      () => containersWithPrefix(s.prefix)[0]?.env.includes('V=2'),
      90_000,
      () => agent.dump(),
    );
    await waitFor(
      'GitSynced=True again',
      async () => condition(await agent.object('nodes', s.node), 'GitSynced')?.status === 'True',
    );
    await waitReady(agent, [s.a]);
  });
});
