// Several nodes on one repository (issue 15, item 5), end to end: three agents (nodes a, b, c) on
// the shared dockerd track one repo. Node labels put a nodeSelector Deployment on the two web
// nodes, a nodeName Deployment on c alone, and one without placement on all three; each agent's
// `orunctl get deploy` lists its own section only. Then one commit moves a Deployment that publishes
// a fixed host port from nodeName a to nodeName b: it ends on b only, and docker's own event stream
// (plus `docker ps --filter publish=`) never shows two running containers on that port.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { deploymentManifest } from '../support/manifests.ts';
import { freePort } from '../support/net.ts';
import { orunctl } from '../support/orunctl.ts';
import { TEST_IMAGE, requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DEPLOYMENT_LABEL = 'run.orcra.dev/deployment';
const NODE_LABEL = 'run.orcra.dev/node';

/** The nodes (by label) whose container of Deployment `dep` is running, sorted. */
function runningOn(dep: string): string[] {
  return execFileSync(
    'docker',
    ['ps', '--filter', `label=${DEPLOYMENT_LABEL}=${dep}`, '--format', `{{.Label "${NODE_LABEL}"}}`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean)
    .sort();
}

/** Running containers publishing host port `port`. */
function publishing(port: number): string[] {
  return execFileSync('docker', ['ps', '-q', '--filter', `publish=${port}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** The NAME column of `orunctl get deploy` against one agent's socket. */
async function listed(socket: string): Promise<string[]> {
  const r = await orunctl(['--socket', socket, 'get', 'deploy']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter(Boolean)
    .sort();
}

describe('a small fleet on one repo (e2e: 3 agents, real git and dockerd, dist/orun.js)', () => {
  it('places by nodeSelector and nodeName, and moves a host-port Deployment without overlap', async () => {
    requireTestImage();
    const prefix = uniquePrefix('fl');
    const nodes = ['a', 'b', 'c'].map((x) => `${prefix}-${x}`) as [string, string, string];
    const [a, b, c] = nodes;
    const [web, db, all, mover] = ['web', 'db', 'all', 'mv'].map((x) => `${prefix}-${x}`) as [
      string,
      string,
      string,
      string,
    ];
    const hostPort = await freePort();
    const repo = new TestGitRepo('orun-fleet-');
    const dirs = nodes.map((n) => mkdtempSync(join(tmpdir(), `orun-data-${n}-`)));
    cleanups.push(() => {
      removeContainers(prefix);
      repo.cleanup();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    const readiness = { readiness: { http: 'localhost:80/health' } };
    const moverSpec = (nodeName: string) => ({
      image: TEST_IMAGE,
      nodeName,
      strategy: { type: 'Recreate' },
      ports: [{ containerPort: 80, port: hostPort, hostIP: '127.0.0.1' }],
      health: readiness,
    });
    repo
      .write({
        [`nodes/${a}.yaml`]: nodeYaml(a, repo.bare, { role: 'web' }),
        [`nodes/${b}.yaml`]: nodeYaml(b, repo.bare, { role: 'web' }),
        [`nodes/${c}.yaml`]: nodeYaml(c, repo.bare, { role: 'db' }),
        [`deployments/${web}.yaml`]: deploymentManifest(web, {
          image: TEST_IMAGE,
          nodeSelector: { matchLabels: { role: 'web' } },
          health: readiness,
        }),
        [`deployments/${db}.yaml`]: deploymentManifest(db, {
          image: TEST_IMAGE,
          nodeName: c,
          health: readiness,
        }),
        [`deployments/${all}.yaml`]: deploymentManifest(all, { image: TEST_IMAGE, health: readiness }),
        [`deployments/${mover}.yaml`]: deploymentManifest(mover, moverSpec(a)),
      })
      .commit('three nodes: web on a and b, db on c, all everywhere, mv on a');

    const agents = nodes.map((node, i) => new AgentProcess({ repo: repo.bare, node, dataDir: dirs[i]! }));
    for (const agent of agents) cleanups.push(() => agent.stop('SIGKILL'));
    const [agentA, agentB, agentC] = agents as [AgentProcess, AgentProcess, AgentProcess];
    const dumpAll = () => agents.map((x, i) => `--- ${nodes[i]}\n${x.dump(30)}`).join('\n');

    const expected: [AgentProcess, string[]][] = [
      [agentA, [all, mover, web]],
      [agentB, [all, web]],
      [agentC, [all, db]],
    ];
    for (const [agent, deps] of expected)
      for (const dep of deps)
        await waitFor(
          `${dep} Ready`,
          async () => condition(await agent.object('deployments', dep), 'Ready')?.status === 'True',
          60_000,
          dumpAll,
        );

    // Placement, read from docker by label: web on a and b, db on c, all on all three.
    expect(runningOn(web)).toEqual([a, b]);
    expect(runningOn(db)).toEqual([c]);
    expect(runningOn(all)).toEqual([a, b, c]);
    expect(runningOn(mover)).toEqual([a]);
    // Each agent lists only its own section.
    for (const [agent, deps] of expected) expect(await listed(agent.socket)).toEqual(deps);

    // Move mv from a to b in one commit. Docker's event stream for mv's containers (replayed from
    // just before the commit, so nothing is missed while it subscribes) gives, in the engine's
    // order, the number running at every moment.
    const [before] = execFileSync(
      'docker',
      ['ps', '-q', '--no-trunc', '--filter', `label=${DEPLOYMENT_LABEL}=${mover}`],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
    expect(before).toBeDefined();
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const events = spawn(
      'docker',
      [
        'events',
        '--since',
        since,
        '--filter',
        'type=container',
        '--filter',
        `label=${DEPLOYMENT_LABEL}=${mover}`,
        '--format',
        '{{json .}}',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    cleanups.push(() => void events.kill('SIGTERM'));
    const live = new Set<string>([before!]);
    const seen: string[] = [];
    let maxLive = 1;
    let buf = '';
    events.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const e = JSON.parse(buf.slice(0, i)) as {
          status?: string;
          id: string;
          Actor?: { Attributes?: Record<string, string> };
        };
        buf = buf.slice(i + 1);
        seen.push(`${e.status ?? ''} ${e.Actor?.Attributes?.[NODE_LABEL] ?? '?'}`);
        if (e.status === 'start') live.add(e.id);
        if (e.status === 'die') live.delete(e.id);
        maxLive = Math.max(maxLive, live.size);
      }
    });

    repo
      .write({ [`deployments/${mover}.yaml`]: deploymentManifest(mover, moverSpec(b)) })
      .commit(`mv: a -> b`);
    let maxPublishing = publishing(hostPort).length;
    await waitFor(
      `${mover} moved to b`,
      async () => {
        maxPublishing = Math.max(maxPublishing, publishing(hostPort).length);
        if (condition(await agentB.object('deployments', mover), 'Ready')?.status !== 'True') return false;
        if ((await agentA.object('deployments', mover)) !== undefined) return false;
        return runningOn(mover).join() === b && !live.has(before!);
      },
      60_000,
      () => `${dumpAll()}\nevents: ${seen.join(', ')}`,
    );
    expect(runningOn(mover)).toEqual([b]);
    expect(seen.filter((s) => s.startsWith('start '))).toContain(`start ${b}`);
    expect(maxLive, seen.join(', ')).toBe(1);
    expect(maxPublishing).toBeLessThanOrEqual(1);
    expect(publishing(hostPort)).toHaveLength(1);
    expect(await listed(agentA.socket)).toEqual([all, web]);
    expect(await listed(agentB.socket)).toEqual([all, mover, web]);
    expect(await listed(agentC.socket)).toEqual([all, db]);
  });
});
