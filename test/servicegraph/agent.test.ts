// The ServiceGraph controller end to end: real git (a bare repo as the remote), real dockerd, the
// built dist/orun.js as a child process. One graph with a host service (busybox httpd on the
// host) that REQUIRES a container service (the busybox test image, published port, HEALTHCHECK).
// Names carry a unique prefix; only this test's containers and processes are cleaned up.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceGraph } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import { ApiClient } from '../../runtime/api/client.ts';
import { resourceByKind } from '../../runtime/api/resources.ts';
import { NodeProcessRunner } from '../../runtime/process/index.ts';
import { AgentProcess, condition, nodeYaml, uniquePrefix, waitFor } from '../support/agent.ts';
import { TestGitRepo } from '../support/git-repo.ts';
import { freePort } from '../support/net.ts';
import { orunctl } from '../support/orunctl.ts';
import { requireTestImage } from '../support/services.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SG = resourceByKind('ServiceGraph');
const runner = new NodeProcessRunner();

function orchfile(containerPort: number, extra = ''): string {
  return [
    'ARG hport=1',
    'SERVICE app',
    // -vv: every request's URL on stderr, so `orunctl logs` has lines to show.
    'RUN exec busybox httpd -f -vv -p 127.0.0.1:${hport} -h ${ORCH_PROJECT}/www',
    'REQUIRES web',
    'HEALTHCHECK http://127.0.0.1:${hport}/index.html',
    'READINESS_TIMEOUT 30s',
    '',
    'SERVICE web',
    'FROM orun-test/busybox:1',
    `CMD sh -c 'trap "exit 0" TERM INT; httpd -f -vv -p 80 -h /www & wait'`,
    `PUBLISH 127.0.0.1:${containerPort}:80`,
    'HEALTHCHECK http://127.0.0.1:' + String(containerPort) + '/health',
    'READINESS_TIMEOUT 30s',
    'TIMEOUT_STOP 2s',
    extra,
    '',
  ].join('\n');
}

function graphYaml(name: string, hostPort: number): string {
  return [
    'apiVersion: run.orcra.dev/v0alpha',
    'kind: ServiceGraph',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  orchfiles: [orch/Orchfile]',
    '  args:',
    `    hport: "${hostPort}"`,
    '',
  ].join('\n');
}

function containerIds(prefix: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `name=^/orun-sg-${prefix}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}

function startedAt(id: string): string {
  return execFileSync('docker', ['inspect', '-f', '{{.State.StartedAt}} {{.State.Running}}', id], {
    encoding: 'utf8',
  }).trim();
}

async function http(port: number, path: string): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

describe('ServiceGraph controller (e2e: real git, real dockerd, dist/orun.js)', () => {
  it('runs a host + container graph in order, survives a bad Orchfile and an agent restart, stops on removal', async () => {
    requireTestImage();
    const t0 = Date.now();
    const prefix = uniquePrefix('sg');
    const name = prefix;
    const node = `${prefix}-node`;
    const repo = new TestGitRepo('orun-sg-');
    const dataDir = mkdtempSync(join(tmpdir(), 'orun-sg-data-'));
    const [hostPort, containerPort] = [await freePort(), await freePort()];
    const pids = new Set<number>();
    cleanups.push(() => {
      for (const pid of pids) runner.signalGroup(pid, 'SIGKILL');
      const ids = containerIds(prefix);
      if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
      spawnSync('docker', ['network', 'rm', `${name}_default`], { stdio: 'ignore' });
      repo.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });
    let agent: AgentProcess;
    const start = (): AgentProcess => {
      const a = new AgentProcess({ repo: repo.bare, node, dataDir });
      cleanups.push(async () => {
        await a.stop('SIGKILL');
      });
      return a;
    };
    const api = new ApiClient({ socketPath: join(dataDir, 'orun.sock') });
    const graph = async (): Promise<ServiceGraph | undefined> => {
      try {
        return (await api.get(SG, name)) as unknown as ServiceGraph;
      } catch {
        return undefined;
      }
    };
    const cond = (g: ServiceGraph | undefined, type: string) =>
      g?.status?.conditions?.find((c) => c.type === type);
    const ready = (what: string) =>
      waitFor(
        what,
        async () => {
          const g = await graph();
          return cond(g, 'Ready')?.status === 'True' ? g : undefined;
        },
        90_000,
        () => agent.dump(),
      );
    const row = (g: ServiceGraph, s: string) => g.status!.services!.find((x) => x.name === s)!;
    const timings: Record<string, number> = {};
    const lap = (k: string, since: number) => (timings[k] = Date.now() - since);

    repo
      .write({
        [`nodes/${node}.yaml`]: nodeYaml(node, repo.bare),
        [`servicegraphs/${name}.yaml`]: graphYaml(name, hostPort),
        'orch/Orchfile': orchfile(containerPort),
        'orch/www/index.html': 'hello from the host\n',
      })
      .commit('a service graph');
    let t = Date.now();
    agent = start();

    // 1. Both come up, the container first (app REQUIRES web), and the status says so.
    const g1 = await ready('ServiceGraph Ready=True');
    lap('first ready', t);
    const app = row(g1, 'app');
    const web = row(g1, 'web');
    expect(app).toMatchObject({ state: 'Running', ready: true, restarts: 0 });
    expect(web).toMatchObject({ state: 'Running', ready: true, restarts: 0 });
    expect(app.pid).toBeGreaterThan(1);
    pids.add(app.pid!);
    expect(containerIds(prefix)).toEqual([web.containerID]);
    expect(await http(hostPort, '/index.html')).toBe('hello from the host\n');
    expect(await http(containerPort, '/health')).toContain('ok');
    const events = await api.events({ resource: SG, name });
    const started = events.filter((e) => e.reason === 'Started').map((e) => e.message.split(':')[0]);
    expect(started).toEqual(['web', 'app']);
    const webStarted = startedAt(web.containerID!);

    // 2. A bad directive: Stalled naming file:line:col; nothing running is touched.
    repo.write({ 'orch/Orchfile': orchfile(containerPort, 'PUBLISHH 1:2') }).commit('typo');
    t = Date.now();
    const stalled = await waitFor(
      'Stalled=True with the Orchfile error',
      async () => {
        const g = await graph();
        return cond(g, 'Stalled')?.status === 'True' ? g : undefined;
      },
      30_000,
      () => agent.dump(),
    );
    lap('stalled', t);
    expect(cond(stalled, 'Stalled')!.message).toMatch(/^orch\/Orchfile:15:1: .*unknown directive 'PUBLISHH'/);
    expect(cond(stalled, 'Ready')?.status).toBe('False');
    expect(row(stalled, 'app').pid).toBe(app.pid);
    expect(runner.alive(app.pid!)).toBe(true);
    expect(startedAt(web.containerID!)).toBe(webStarted);

    // Fixed again: the same config, so Ready again with nothing restarted.
    repo.write({ 'orch/Orchfile': orchfile(containerPort) }).commit('fix');
    const g2 = await ready('Ready again after the fix');
    expect(row(g2, 'app').pid).toBe(app.pid);
    expect(row(g2, 'web').containerID).toBe(web.containerID);

    // 3. SIGTERM: the agent exits, services keep running; a new agent adopts them.
    t = Date.now();
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    lap('agent stop', t);
    expect(runner.alive(app.pid!)).toBe(true);
    expect(startedAt(web.containerID!)).toBe(webStarted);
    t = Date.now();
    agent = start();
    const g3 = await ready('Ready after the agent restart');
    lap('ready after restart', t);
    expect(row(g3, 'app').pid).toBe(app.pid);
    expect(row(g3, 'web').containerID).toBe(web.containerID);
    expect(startedAt(web.containerID!)).toBe(webStarted);
    expect(containerIds(prefix)).toEqual([web.containerID]);
    const adopted = (await api.events({ resource: SG, name })).filter((e) => e.reason === 'Adopted');
    expect(adopted.map((e) => e.message.split(':')[0]).sort()).toEqual(['app', 'web']);
    expect(await http(hostPort, '/index.html')).toBe('hello from the host\n');

    // orunctl shows the graph: get (NAME SERVICES READY AGE) and describe (per-service rows, events).
    const env = { ORUN_SOCKET: agent.socket };
    const get = await orunctl(['get', 'sg'], env);
    expect(get.stdout).toMatch(
      new RegExp(`^NAME +SERVICES +READY +SUSPENDED +AGE\\n${name} +app,web +2/2 +False +\\S+\\n$`),
    );
    const describe = await orunctl(['describe', 'sg', name], env);
    expect(describe.stdout).toMatch(
      /Services:\n +Service +Kind +State +Ready +Restarts +Exit Code +Since +Last Error\n +-+ .*\n +app +host +Running +True +0 +<none> +\S+ +<none>\n +web +container +Running +True +0 +<none> +\S+ +<none>\n/,
    );
    expect(describe.stdout).toContain('Adopted');

    // orunctl logs sg/NAME [SERVICE] [-f]: the host service's log file and the container's output
    // (both adopted), one service bare, all of them prefixed, an unknown one named.
    const url = (s: string) => `/logs-${prefix}-${s}`;
    await http(hostPort, url('app'));
    await http(containerPort, url('web'));
    const appLogs = await waitFor('the host request in orunctl logs sg/NAME app', async () => {
      const r = await orunctl(['logs', `sg/${name}`, 'app'], env);
      return r.code === 0 && r.stdout.includes(`url:${url('app')}`) ? r.stdout : undefined;
    });
    expect(appLogs).not.toContain(url('web'));
    expect(appLogs).not.toContain('[app]');
    const allLogs = await waitFor('both services in orunctl logs sg/NAME', async () => {
      const r = await orunctl(['logs', `sg/${name}`], env);
      return r.stdout.includes(`url:${url('web')}`) ? r.stdout : undefined;
    });
    expect(allLogs).toMatch(new RegExp(`^\\[app\\] .*url:${url('app')}$`, 'm'));
    expect(allLogs).toMatch(new RegExp(`^\\[web\\] .*url:${url('web')}$`, 'm'));
    expect(allLogs.split('\n').filter((l) => l !== '' && !/^\[(app|web)\] /.test(l))).toEqual([]);
    const unknown = await orunctl(['logs', `sg/${name}`, 'nope'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      `Error from server (BadRequest): servicegraph "${name}" has no service "nope"; its services: web, app\n`,
    );
    // -f (one service by -c) prints new lines as they come and ends on Ctrl-C with exit 0.
    let followed = false;
    const follow = orunctl(['logs', `sg/${name}`, '-c', 'web', '-f', '--tail', '0'], env, (out, stop) => {
      if (out.includes(`url:${url('follow')}`)) {
        followed = true;
        stop();
      }
    });
    await waitFor('orunctl logs -f printed a new request', async () => {
      if (!followed) await http(containerPort, url('follow'));
      return followed;
    });
    const followResult = await follow;
    expect(followResult.code).toBe(0);
    expect(followResult.stdout).not.toContain(url('web'));

    // 3b. A restart while Git is unreachable runs the saved last good objects: their revision is
    // checked out again from the objects already fetched, so the graph is adopted (it used to wait,
    // WaitingForCheckout, until Git answered).
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    repo.hideRemote();
    t = Date.now();
    agent = start();
    const g4 = await ready('Ready after a restart with Git unreachable');
    lap('ready after restart, Git unreachable', t);
    expect(condition(await agent.object('nodes', node), 'ManifestsValid')?.reason).toBe('LastGoodRestored');
    expect(row(g4, 'app').pid).toBe(app.pid);
    expect(row(g4, 'web').containerID).toBe(web.containerID);
    expect(startedAt(web.containerID!)).toBe(webStarted);
    repo.restoreRemote();

    // 4. Removed from Git: both stopped, the container removed.
    repo.write({ [`servicegraphs/${name}.yaml`]: undefined }).commit('remove the graph');
    t = Date.now();
    await waitFor(
      'host process stopped and container removed',
      () => !runner.alive(app.pid!) && containerIds(prefix).length === 0,
      60_000,
      () => agent.dump(),
    );
    lap('removed', t);
    lap('total', t0);
    console.log(`servicegraph e2e timings (ms): ${JSON.stringify(timings)}`);
  });
});
