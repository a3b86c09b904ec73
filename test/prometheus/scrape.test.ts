/**
 * A real Prometheus (Debian's package) scrapes a real agent (dist/orun.js start): the target is
 * up, the controller-runtime, workqueue, orun_* and process/Node.js series exist, the rules of
 * config/prometheus load, and `promtool check metrics` accepts the raw exposition. Missing
 * prometheus or promtool fails the test with the fix spelled out.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentProcess,
  condition,
  deploymentYaml,
  nodeYaml,
  removeContainers,
  uniquePrefix,
  waitFor,
} from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort } from '../support/net.ts';
import { requireCommand, requireTestImage } from '../support/services.ts';

const prefix = uniquePrefix('prom');
const node = `${prefix}-node`;
const web = `${prefix}-web`;
let repo: TestGitRepo;
let dir: string;
let agent: AgentProcess;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let agentUrl: string;
let promUrl: string;

interface QueryResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(promql: string): Promise<QueryResult['data']['result']> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as QueryResult;
  if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
  return body.data.result;
}

beforeAll(async () => {
  requireCommand('prometheus (Debian package prometheus)', 'prometheus', ['--version']);
  requireCommand('promtool (Debian package prometheus)', 'promtool', ['--version']);
  requireTestImage();
  repo = new TestGitRepo('orun-prom-');
  dir = mkdtempSync(join(tmpdir(), 'orun-prom-'));
  repo
    .write({
      [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
      [`deployments/${web}.yaml`]: deploymentYaml(web),
    })
    .commit('one deployment');
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  agentUrl = `http://${metricsAddress}`;
  agent = new AgentProcess({
    repo: repo.bare,
    node,
    dataDir: join(dir, 'data'),
    extraArgs: ['--metrics-address', metricsAddress],
  });
  await waitFor(
    `Deployment ${web} Ready=True`,
    async () => condition(await agent.object('deployments', web), 'Ready')?.status === 'True',
    45_000,
    () => agent.dump(),
  );

  const promAddress = `127.0.0.1:${await freePort()}`;
  promUrl = `http://${promAddress}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${resolve('config/prometheus/orun.rules.yml')}`,
      'scrape_configs:',
      '  - job_name: orun',
      '    static_configs:',
      `      - targets: ['${metricsAddress}']`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=${promAddress}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  for (const s of [prometheus.stdout, prometheus.stderr]) {
    s?.setEncoding('utf8').on('data', (d: string) => (prometheusLog = (prometheusLog + d).slice(-20_000)));
  }
  await waitFor(
    'Prometheus scraped the agent: up{job="orun"} == 1',
    async () => {
      const r = await query('up{job="orun"}').catch(() => []);
      return r[0]?.value[1] === '1';
    },
    30_000,
    () => `prometheus log:\n${prometheusLog}\nagent log:\n${agent.dump(20)}`,
  );
});

afterAll(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus?.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await agent?.stop('SIGKILL');
  removeContainers(prefix);
  repo?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('Prometheus scraping the agent (e2e: real prometheus, agent, git, dockerd)', () => {
  it.each([
    ['workqueue_depth{name="deployment"}'],
    ['workqueue_adds_total{name="deployment"}'],
    ['workqueue_queue_duration_seconds_bucket'],
    ['workqueue_work_duration_seconds_bucket'],
    ['workqueue_retries_total'],
    ['workqueue_unfinished_work_seconds'],
    ['workqueue_longest_running_processor_seconds'],
    ['controller_runtime_reconcile_total{controller="deployment",result="success"}'],
    ['controller_runtime_reconcile_errors_total'],
    ['controller_runtime_reconcile_time_seconds_bucket{controller="deployment"}'],
    ['controller_runtime_active_workers'],
    ['controller_runtime_max_concurrent_reconciles'],
    ['orun_git_last_success_timestamp_seconds'],
    [`orun_deployment_ready{deployment="${web}"}`],
    ['process_cpu_seconds_total'],
    ['process_resident_memory_bytes'],
    ['nodejs_eventloop_lag_seconds'],
    ['nodejs_heap_size_used_bytes'],
  ])('series %s exists', async (selector) => {
    const r = await waitFor(
      `series ${selector}`,
      async () => {
        const rows = await query(selector);
        return rows.length > 0 ? rows : undefined;
      },
      10_000,
    );
    expect(r[0]?.metric['job']).toBe('orun');
  });

  it('the values say what happened: the deployment is ready, git synced recently, reconciles ran', async () => {
    expect((await query(`orun_deployment_ready{deployment="${web}"}`))[0]?.value[1]).toBe('1');
    const age = await query('time() - orun_git_last_success_timestamp_seconds');
    expect(Number(age[0]?.value[1])).toBeLessThan(60);
    const ok = await query('sum(controller_runtime_reconcile_total{result=~"success|requeue_after"})');
    expect(Number(ok[0]?.value[1])).toBeGreaterThan(0);
  });

  it('the four alert rules of config/prometheus are loaded and none fires', async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; state: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name)).toEqual([
      'OrunAgentDown',
      'OrunGitSyncStale',
      'OrunDeploymentNotReady',
      'OrunDeploymentCrashLooping',
    ]);
    expect(rules.every((r) => r.health !== 'err')).toBe(true);
    expect(rules.filter((r) => r.state === 'firing')).toEqual([]);
  });

  it('promtool check metrics reports no problems on the raw exposition', async () => {
    const exposition = await (await fetch(`${agentUrl}/metrics`)).text();
    expect(exposition).toContain('# TYPE controller_runtime_reconcile_total counter');
    let problems = '';
    try {
      execFileSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      problems = `${e.stdout ?? ''}${e.stderr ?? ''}` || String(err);
    }
    expect(problems).toBe('');
  });

  it('/healthz is ok; /readyz answers in the controller-runtime format', async () => {
    const health = await fetch(`${agentUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    const ready = await fetch(`${agentUrl}/readyz?verbose`);
    expect(ready.status).toBe(200);
    const body = await ready.text();
    expect(body).toMatch(/^(\[\+\]\S+ ok\n)+readyz check passed\n?$/);
  });

  it('/readyz fails (HTTP 500, a [-] line) until the first Git sync completed', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const stuck = new AgentProcess({
      repo: join(dir, 'no-such-repo.git'),
      node: `${prefix}-stuck`,
      dataDir: join(dir, 'stuck'),
      extraArgs: ['--metrics-address', address],
    });
    try {
      const res = await waitFor(
        'the probe server of an agent that cannot sync',
        () => fetch(`http://${address}/readyz`).catch(() => undefined),
        20_000,
        () => stuck.dump(),
      );
      expect(res.status).toBe(500);
      expect(await res.text()).toMatch(
        /^(\[[+-]\]\S+ (ok|failed: .*)\n)*\[-\]\S+ failed: .*\n(.*\n)*readyz check failed\n?$/,
      );
      expect((await fetch(`http://${address}/healthz`)).status).toBe(200);
    } finally {
      await stuck.stop('SIGKILL');
    }
  });
});
