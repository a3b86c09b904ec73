/**
 * `orunctl rollout status deploy/NAME --revision SHA` as the README's deploy loop uses it, against
 * a real agent (dist/orun.js start, poll interval 1 h: only the command's own "poll now" brings a
 * commit in), real git and dockerd: a commit that rolls out exits 0 after the phases; one whose
 * readiness never passes exits 1 with ProgressDeadlineExceeded while the old container keeps
 * running. A Deployment stalled on a missing host path runs as soon as `orunctl reconcile` is asked
 * after the path exists (not after its back-off). Containers are `orun-<prefix>-*`; the test
 * removes only those.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { orunctl } from '../support/orunctl.ts';
import { requireTestImage } from '../support/services.ts';

const prefix = uniquePrefix('ros');
const node = `${prefix}-node`;
const web = `${prefix}-web`;
let repo: TestGitRepo;
let dataDir: string;
let agent: AgentProcess;

const status = (args: string[]) =>
  orunctl(
    ['rollout', 'status', `deploy/${web}`, '--timeout', '60s', ...args],
    { ORUN_SOCKET: agent.socket },
    undefined,
    70_000,
  );

beforeAll(async () => {
  requireTestImage();
  repo = new TestGitRepo('orun-ros-');
  dataDir = mkdtempSync(join(tmpdir(), 'orun-ros-data-'));
  repo
    .write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${web}.yaml`]: deploymentYaml(web, { VERSION: '1' }),
    })
    .commit('web v1');
  // A stall's first back-off is the crash back-off: 60 s, far beyond what the reconcile test waits.
  agent = new AgentProcess({
    repo: repo.bare,
    node,
    dataDir,
    pollInterval: '1h',
    extraArgs: ['--crash-backoff', '60s'],
  });
  await waitFor(
    `Deployment ${web} Ready=True`,
    async () => condition(await agent.object('deployments', web), 'Ready')?.status === 'True',
    45_000,
    () => agent.dump(),
  );
}, 60_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  removeContainers(prefix);
  repo?.cleanup();
  if (dataDir !== undefined) rmSync(workerDir(), { recursive: true, force: true });
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

/** The worker's host path: beside the data dir, not in it (a hostPath under it is refused). */
const workerDir = () => join(dataDir, '..', `${prefix}-worker-data`);

describe('orunctl rollout status (e2e: real agent, git, dockerd)', () => {
  it('--revision polls Git, waits for the node to apply the commit, then for the rollout: exit 0', async () => {
    const sha = repo
      .write({ [`deployments/${web}.yaml`]: deploymentYaml(web, { VERSION: '2' }) })
      .commit('v2');
    const r = await status(['--revision', sha]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`node applied revision main@sha1:${sha}`);
    expect(r.stdout).toMatch(new RegExp(`deployment "${web}" successfully rolled out\\n$`));
    const env = containersWithPrefix(prefix).find((c) => c.deployment === web)?.env ?? [];
    expect(env).toContain('VERSION=2');
  });

  it('a version that never gets ready: exit 1 with ProgressDeadlineExceeded; the old container runs on', async () => {
    const before = containersWithPrefix(prefix).find((c) => c.deployment === web)?.id;
    const broken = deploymentYaml(web, { VERSION: '3' })
      .replace('localhost:80/health', 'localhost:81/health')
      .replace('  health:', '  progressDeadlineSeconds: 3\n  health:');
    const sha = repo.write({ [`deployments/${web}.yaml`]: broken }).commit('v3, never ready');
    const r = await status(['--revision', sha]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^error: deployment "${web}" rollout failed: ProgressDeadlineExceeded: `),
    );
    expect(
      containersWithPrefix(prefix)
        .filter((c) => c.deployment === web)
        .map((c) => c.id),
    ).toEqual([before]);
  });
  it('orunctl reconcile deploy NAME retries a stalled Deployment at once once its cause is fixed', async () => {
    const worker = `${prefix}-worker`;
    const dir = workerDir(); // not under the data dir (refused)
    const yaml = deploymentYaml(worker).replace(
      '  health:',
      `  volumes: [{hostPath: ${dir}, containerPath: /data, type: Directory}]\n  health:`,
    );
    const sha = repo.write({ [`deployments/${worker}.yaml`]: yaml }).commit('worker, its directory missing');
    const stalled = await orunctl(
      ['rollout', 'status', `deploy/${worker}`, '--revision', sha, '--timeout', '60s'],
      { ORUN_SOCKET: agent.socket },
      undefined,
      70_000,
    );
    expect(stalled.stderr).toMatch(/rollout failed: InvalidMount: /);
    // The fix, then one request: tried at once, not after the 60 s back-off.
    mkdirSync(dir);
    const asked = await orunctl(['reconcile', 'deploy', worker], { ORUN_SOCKET: agent.socket });
    expect(asked.code, asked.stderr).toBe(0);
    await waitFor(
      `Deployment ${worker} Ready=True well within its 60 s back-off`,
      async () => condition(await agent.object('deployments', worker), 'Ready')?.status === 'True',
      30_000,
      () => agent.dump(),
    );
  });
});
