// Faults under the real agent (dist/orun.js, real git, real dockerd): SIGKILL during convergence,
// round after round, and the Git remote gone and back. Each round measures the time to
// reconverge and checks no duplicate container and no healthy container restarted.
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { requireTestImage } from '../support/services.ts';
import { envCount, recordScenario } from './report.ts';

const ROUNDS = envCount('CHAOS_ROUNDS', 3);
const DEPLOYMENTS = 5;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(tag: string) {
  requireTestImage();
  const prefix = uniquePrefix(tag);
  const repo = new TestGitRepo(`orun-chaos-${tag}-`);
  const dataDir = mkdtempSync(join(tmpdir(), `orun-data-chaos-${tag}-`));
  const node = `${prefix}-node`;
  const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `${prefix}-d${i}`);
  cleanups.push(() => {
    removeContainers(prefix);
    repo.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = (): AgentProcess => {
    const agent = new AgentProcess({ repo: repo.bare, node, dataDir });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    return agent;
  };
  const write = (v: string) => {
    const files: Record<string, string> = { [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare) };
    for (const n of names) files[`deployments/${n}.yaml`] = deploymentYaml(n, { V: v });
    return repo.write(files).commit(`v${v}`);
  };
  const converged = async (agent: AgentProcess, v: string): Promise<void> => {
    await waitFor(
      `all ${DEPLOYMENTS} Deployments Ready at V=${v}, one container each`,
      async () => {
        const cs = containersWithPrefix(prefix);
        if (cs.length !== DEPLOYMENTS || !cs.every((c) => c.running && c.env.includes(`V=${v}`)))
          return false;
        for (const n of names)
          if (condition(await agent.object('deployments', n), 'Ready')?.status !== 'True') return false;
        return true;
      },
      120_000,
      () => agent.dump(),
    );
  };
  return { prefix, repo, start, write, converged };
}

describe('chaos: faults under the agent', () => {
  it(`SIGKILL during convergence, ${ROUNDS} rounds: reconverges, no duplicates, a healthy restart restarts nothing`, async () => {
    const started = Date.now();
    const s = setup('kill');
    s.write('0');
    let agent = s.start();
    await s.converged(agent, '0');
    const table = [['round', 'killed after', 'time to reconverge', 'containers', 'duplicates']];
    for (let r = 1; r <= ROUNDS; r++) {
      const before = new Map(containersWithPrefix(s.prefix).map((c) => [c.name, c.id]));
      s.write(String(r));
      // Kill as soon as the first container of the new version exists: mid-convergence.
      await waitFor('the first replacement started', () =>
        containersWithPrefix(s.prefix).some((c) => before.get(c.name) !== c.id),
      );
      const killed = Date.now();
      expect((await agent.stop('SIGKILL')).signal).toBe('SIGKILL');
      agent = s.start();
      await s.converged(agent, String(r));
      const cs = containersWithPrefix(s.prefix);
      const dups = cs.length - new Set(cs.map((c) => c.deployment)).size;
      table.push([
        String(r),
        'first replacement',
        `${((Date.now() - killed) / 1000).toFixed(1)} s`,
        String(cs.length),
        String(dups),
      ]);
      expect(dups).toBe(0);
    }
    // A healthy restart restarts nothing.
    const steady = containersWithPrefix(s.prefix);
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    agent = s.start();
    await s.converged(agent, String(ROUNDS));
    expect(containersWithPrefix(s.prefix)).toEqual(steady);
    await agent.stop('SIGTERM');
    recordScenario({
      name: 'sigkill',
      checked: [
        `${DEPLOYMENTS} Deployments; each round commits a new env to all of them and SIGKILLs the agent once the first replacement container exists`,
        'after a restart every Deployment is Ready at the new version with exactly one container (no duplicates)',
        'a SIGTERM + restart of a converged agent leaves every container as it was (same ids)',
      ],
      table,
      rounds: ROUNDS,
      ms: Date.now() - started,
    });
  }, 900_000);

  it('the Git remote gone and back: nothing touched meanwhile, not even by a restart; the next commit applied', async () => {
    const started = Date.now();
    const s = setup('git');
    s.write('0');
    let agent = s.start();
    await s.converged(agent, '0');
    const steady = containersWithPrefix(s.prefix);
    const table = [
      [
        'round',
        'GitSynced=False seen',
        'containers untouched',
        'agent restarted while away: the Node says',
        'containers untouched after the restart',
        'time to apply after return',
      ],
    ];
    for (let r = 1; r <= ROUNDS; r++) {
      const away = `${s.repo.bare}.away`;
      renameSync(s.repo.bare, away);
      await waitFor(
        'GitSynced=False',
        async () => {
          const n = await agent.object('nodes', `${s.prefix}-node`);
          return condition(n, 'GitSynced')?.status === 'False';
        },
        60_000,
        () => agent.dump(),
      );
      const untouched = JSON.stringify(containersWithPrefix(s.prefix)) === JSON.stringify(steady);
      expect(untouched).toBe(true);
      // A restart while the remote is away runs the last good objects: adopted, nothing restarted.
      expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      agent = s.start();
      const restarted = agent;
      const n = await waitFor(
        'the restarted agent says GitSynced=False and runs the last good objects',
        async () => {
          const n = await restarted.object('nodes', `${s.prefix}-node`);
          return condition(n, 'GitSynced')?.status === 'False' &&
            condition(n, 'ManifestsValid')?.reason === 'LastGoodRestored'
            ? n
            : undefined;
        },
        60_000,
        () => restarted.dump(),
      );
      const said = ['GitSynced', 'ManifestsValid', 'Ready']
        .map((t) => `${t}=${condition(n, t)?.status}/${condition(n, t)?.reason}`)
        .join(', ');
      await waitFor(
        `all ${DEPLOYMENTS} Deployments Ready=True after the restart`,
        async () => {
          for (const d of containersWithPrefix(s.prefix)) {
            const obj = await restarted.object('deployments', d.deployment);
            if (condition(obj, 'Ready')?.status !== 'True') return false;
          }
          return true;
        },
        60_000,
        () => restarted.dump(),
      );
      const kept = JSON.stringify(containersWithPrefix(s.prefix)) === JSON.stringify(steady);
      expect(kept).toBe(true);
      renameSync(away, s.repo.bare);
      const back = Date.now();
      s.write(`g${r}`);
      await s.converged(agent, `g${r}`);
      table.push([
        String(r),
        'yes',
        String(untouched),
        said,
        String(kept),
        `${((Date.now() - back) / 1000).toFixed(1)} s`,
      ]);
      steady.splice(0, steady.length, ...containersWithPrefix(s.prefix));
    }
    await agent.stop('SIGTERM');
    recordScenario({
      name: 'git-down',
      checked: [
        'the bare remote is moved away: the Node says GitSynced=False and no container changes',
        'the agent is restarted (SIGTERM) while the remote is away: it runs the last good objects saved in the data dir, the Node says why (ManifestsValid=Unknown/LastGoodRestored, GitSynced=False), every Deployment is Ready and no container changes (same ids and StartedAt)',
        'the remote is back and a commit lands: every Deployment reconverges to it',
      ],
      table,
      rounds: ROUNDS,
      ms: Date.now() - started,
    });
  }, 900_000);
});
