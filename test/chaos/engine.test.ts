// The container engine restarted under the agent, on a PRIVATE dockerd (own data root, exec root,
// socket, bridge and address pool; --live-restore, as a production node runs it), never the
// machine's shared one. Each round commits a change, stops dockerd as soon as the first
// replacement container exists (mid-convergence), and checks what the agent says while the
// engine is away and what it does when it is back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  containersWithPrefix,
  deploymentYaml,
  nodeYaml,
  uniquePrefix,
  waitFor,
  type ApiObjectView,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { orunctl } from '../support/orunctl.ts';
import { PrivateDockerd } from '../support/private-dockerd.ts';
import { requireTestImage } from '../support/services.ts';
import { probePort, readyz } from './probe.ts';
import { envCount, recordScenario } from './report.ts';

const ROUNDS = envCount('CHAOS_ROUNDS', 2);
const DEPLOYMENTS = 3;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const containers = (pd: PrivateDockerd, prefix: string) => containersWithPrefix(prefix, pd.host);

describe('chaos: the container engine restarted under the agent (private dockerd)', () => {
  it(`dockerd stopped mid-convergence and started again, ${ROUNDS} rounds: truthful status, nothing pruned, healthy containers kept`, async () => {
    const started = Date.now();
    requireTestImage();
    const pd = new PrivateDockerd('eng');
    cleanups.push(() => pd.destroy());
    await pd.start();
    pd.loadImage('orun-test/busybox:1');

    const prefix = uniquePrefix('eng');
    const repo = new TestGitRepo('orun-chaos-engine-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-data-chaos-engine-'));
    cleanups.push(() => {
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const node = `${prefix}-node`;
    const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `${prefix}-d${i}`);
    const [changing, ...steady] = names as [string, ...string[]];
    // A ServiceGraph with one container service beside them: it must say the same while the
    // engine is away, and keep its container.
    const graph = `${prefix}-g`;
    const graphFiles = {
      [`servicegraphs/${graph}.yaml`]: `apiVersion: run.orcra.dev/v0alpha\nkind: ServiceGraph\nmetadata:\n  name: ${graph}\nspec:\n  orchfiles: [orch/Orchfile]\n`,
      'orch/Orchfile': `SERVICE web\nFROM orun-test/busybox:1\nCMD sh -c 'trap "exit 0" TERM INT; sleep 1000000 & wait'\nTIMEOUT_STOP 2s\n`,
    };
    const graphContainers = () => containersWithPrefix(`sg-${graph}`, pd.host);
    const graphReady = async (): Promise<string | undefined> => {
      const ready = condition(await agent.object('servicegraphs', graph), 'Ready');
      return ready === undefined ? undefined : `${ready.status}/${ready.reason}`;
    };
    const write = (v: string, others = '0'): void => {
      const files: Record<string, string> = {
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        ...graphFiles,
      };
      files[`deployments/${changing}.yaml`] = deploymentYaml(changing, { V: v });
      for (const n of steady) files[`deployments/${n}.yaml`] = deploymentYaml(n, { V: others });
      repo.write(files).commit(`v${v}`);
    };
    write('0');
    const agent = new AgentProcess({
      repo: repo.bare,
      node,
      dataDir,
      env: { DOCKER_HOST: pd.host },
    });
    cleanups.push(async () => {
      await agent.stop('SIGKILL');
    });
    const dump = (): string => `${agent.dump()}\nDOCKERD:\n${pd.logTail(1500)}`;
    const converged = (v: string): Promise<boolean> =>
      waitFor(
        `all Deployments Ready, ${changing} at V=${v}, one container each`,
        async () => {
          const cs = containers(pd, prefix);
          if (cs.length !== DEPLOYMENTS || !cs.every((c) => c.running)) return false;
          if (!cs.find((c) => c.deployment === changing)?.env.includes(`V=${v}`)) return false;
          for (const n of names)
            if (condition(await agent.object('deployments', n), 'Ready')?.status !== 'True') return false;
          return (await graphReady()) === 'True/ServicesReady' && graphContainers().every((c) => c.running);
        },
        180_000,
        dump,
      );
    await converged('0');
    const port = await probePort(agent);
    const nodeObj = (): Promise<ApiObjectView | undefined> => agent.object('nodes', node);
    const sock = { ORUN_SOCKET: agent.socket };

    const table = [
      [
        'round',
        'outage seen by the Node',
        'Deployments EngineUnavailable',
        'Stalled seen',
        '`orunctl get` STATUS',
        '/readyz while down',
        'reconverged after return',
        'healthy containers restarted',
        'duplicates',
        'ServiceGraph while down',
        'ServiceGraph container kept',
      ],
    ];
    for (let r = 1; r <= ROUNDS; r++) {
      const before = containers(pd, prefix);
      const graphBefore = graphContainers();
      expect(graphBefore).toHaveLength(1);
      const steadyBefore = before.filter((c) => c.deployment !== changing);
      write(String(r));
      await waitFor(
        'the first replacement container exists',
        () => containers(pd, prefix).some((c) => !before.some((b) => b.id === c.id)),
        120_000,
        dump,
      );
      const downAt = Date.now();
      await pd.stop('SIGTERM');

      const runtime = await waitFor(
        'Node RuntimeReady=False',
        async () => {
          const c = condition(await nodeObj(), 'RuntimeReady');
          return c?.status === 'False' ? c : undefined;
        },
        60_000,
        dump,
      );
      const seenAt = Date.now();
      expect(runtime.reason).toBe('EngineUnavailable');
      expect(condition(await nodeObj(), 'Ready')).toMatchObject({
        status: 'False',
        reason: 'EngineUnavailable',
      });
      // Every Deployment says so (Ready=Unknown); none turns Stalled (what kstatus and the
      // notifications read as failed) meanwhile.
      const flaps = new Set<string>();
      await waitFor(
        'every Deployment Ready=Unknown/EngineUnavailable',
        async () => {
          let all = true;
          for (const n of names) {
            const d = await agent.object('deployments', n);
            const ready = condition(d, 'Ready');
            if (condition(d, 'Stalled')?.status === 'True')
              flaps.add(`${n}: Stalled/${condition(d, 'Stalled')?.reason}`);
            if (ready?.status !== 'Unknown' || ready.reason !== 'EngineUnavailable') all = false;
          }
          return all;
        },
        60_000,
        dump,
      );
      const graphDown = await waitFor(
        'the ServiceGraph Ready=Unknown/EngineUnavailable',
        async () => {
          const r = await graphReady();
          return r === 'Unknown/EngineUnavailable' ? r : undefined;
        },
        60_000,
        dump,
      );
      const get = await orunctl(['get', 'deploy'], sock);
      const statuses = [
        ...new Set(
          get.stdout
            .split('\n')
            .slice(1)
            .filter(Boolean)
            .map((l) => l.split(/\s+/)[2]),
        ),
      ];
      expect(statuses).toEqual(['EngineUnavailable']);
      const nodeGet = await orunctl(['get', 'no'], sock);
      expect(nodeGet.stdout.split('\n')[1]).toMatch(/ EngineUnavailable /);
      const rz = await readyz(port);
      expect(rz.status).toBe(500);
      expect(rz.body).toMatch(/\[-\]engine failed/);
      expect([...flaps]).toEqual([]);

      await pd.start();
      const upAt = Date.now();
      await converged(String(r));
      const back = Date.now();
      expect(condition(await nodeObj(), 'RuntimeReady')?.status).toBe('True');
      expect((await readyz(port)).status).toBe(200);
      const after = containers(pd, prefix);
      const restarted = steadyBefore.filter((b) => {
        const a = after.find((c) => c.id === b.id);
        return a === undefined || a.startedAt !== b.startedAt;
      });
      const dups = after.length - new Set(after.map((c) => c.deployment)).size;
      const graphKept =
        JSON.stringify(graphContainers().map((c) => [c.id, c.startedAt])) ===
        JSON.stringify(graphBefore.map((c) => [c.id, c.startedAt]));
      table.push([
        String(r),
        `${((seenAt - downAt) / 1000).toFixed(1)} s`,
        `${DEPLOYMENTS}/${DEPLOYMENTS}`,
        String(flaps.size),
        statuses.join(','),
        `${rz.status} (${rz.body.includes('[-]engine failed') ? 'engine failed' : '?'})`,
        `${((back - upAt) / 1000).toFixed(1)} s`,
        String(restarted.length),
        String(dups),
        graphDown,
        graphKept ? 'yes' : 'no',
      ]);
      expect(restarted).toEqual([]);
      expect(dups).toBe(0);
      expect(graphKept).toBe(true);
    }
    await agent.stop('SIGTERM');
    recordScenario({
      name: 'engine-restart',
      checked: [
        `a private dockerd (own data root, exec root, socket, bridge; --live-restore) under the agent; ${DEPLOYMENTS} Deployments, each round changes one of them and stops dockerd (SIGTERM) as soon as its replacement container exists`,
        'while the engine is away: the Node says RuntimeReady=False and Ready=False/EngineUnavailable; every Deployment says Ready=Unknown/EngineUnavailable (over its last known facts) and none turns Stalled; `orunctl get deploy` and `get no` show EngineUnavailable; /readyz fails its `engine` check',
        'dockerd started again: everything reconverges by itself (the change applied, one container per Deployment) and RuntimeReady=True, /readyz 200',
        'the Deployments that did not change keep their containers (same id and StartedAt): nothing healthy is restarted, nothing is pruned',
        'a ServiceGraph with a container service beside them says Ready=Unknown/EngineUnavailable while the engine is away, is Ready again after, and keeps its container (same id and StartedAt)',
      ],
      table,
      rounds: ROUNDS,
      ms: Date.now() - started,
    });
  }, 900_000);
});
