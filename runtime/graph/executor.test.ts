import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseOrchfiles } from '../../apis/orchfile/index.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeEngine } from '../docker/fake.ts';
import { FakeProcessRunner } from '../process/index.ts';
import { GraphExecutor, type GraphExecutorOptions } from './executor.ts';
import { readMarker } from './marker.ts';
import type { GraphEvent } from './types.ts';

const IMAGE = 'orun-test/busybox:1';

function setup(text: string, services?: string[], extra: Partial<GraphExecutorOptions> = {}) {
  const r = parseOrchfiles([{ path: 'Orchfile', text }]);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const clock = new FakeClock();
  const runner = new FakeProcessRunner();
  const engine = new FakeEngine({ images: [IMAGE], now: () => clock.now() });
  const healthy = new Set<string>();
  const events: GraphEvent[] = [];
  const ex = new GraphExecutor({
    graph: r.graph,
    project: 'proj',
    vars: { ORCH_PROJECT: '/tmp' },
    services,
    processes: runner,
    engine,
    clock,
    baseEnv: {},
    healthChecker: (check) =>
      Promise.resolve({ ok: healthy.has(check), message: healthy.has(check) ? 'ok' : 'down' }),
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const state = (name: string) => ex.status().find((s) => s.name === name)?.state;
  const starts = () => events.filter((e) => e.state === 'starting').map((e) => e.service);
  return { ex, clock, runner, engine, healthy, events, state, starts };
}

describe('GraphExecutor', () => {
  it('REQUIRES waits for the dependency to be healthy', async () => {
    const t = setup(`
SERVICE db
FROM ${IMAGE}
HEALTHCHECK http://127.0.0.1:5432/
SERVICE web
RUN serve
REQUIRES db
`);
    const started = t.ex.start();
    await t.clock.advance(0);
    expect(t.state('db')).toBe('starting');
    expect(t.state('web')).toBe('pending');
    await t.clock.advance(2000);
    expect(t.runner.processes).toHaveLength(0);
    t.healthy.add('http://127.0.0.1:5432/');
    await t.clock.advance(500);
    await started;
    expect(t.state('db')).toBe('running');
    expect(t.state('web')).toBe('running');
    expect(t.starts()).toEqual(['db', 'web']);
    const c = t.engine.specOf('proj-db')!;
    expect(c.labels).toMatchObject({
      'run.orcra.dev/managed-by': 'orch',
      'orch.project': 'proj',
      'orch.service': 'db',
    });
    await t.ex.stop();
  });

  it('a required service that never becomes healthy blocks its dependants', async () => {
    const t = setup(`
SERVICE db
RUN db
HEALTHCHECK pg_isready
READINESS_TIMEOUT 2s
SERVICE web
RUN serve
REQUIRES db
`);
    const started = t.ex.start();
    await t.clock.advance(3000);
    await started;
    expect(t.state('db')).toBe('failed');
    expect(t.ex.status()[0]!.message).toContain('not healthy within READINESS_TIMEOUT 2s');
    expect(t.state('web')).toBe('blocked');
    expect(t.runner.processes.map((p) => p.spec.name)).toEqual(['db']);
    expect(t.runner.running('db')).toEqual([]);
    expect(t.ex.failed).toBe(true);
    await t.ex.stop();
  });

  it('AFTER only orders: the dependant starts once the other settled, even failed', async () => {
    const t = setup(`
SERVICE cache
RUN cache
SERVICE web
RUN serve
AFTER cache missing-service
`);
    t.runner.script('cache', { spawnError: 'no such binary' });
    await t.ex.start();
    expect(t.state('cache')).toBe('failed');
    expect(t.state('web')).toBe('running');
    expect(t.starts()).toEqual(['cache', 'web']);
    await t.ex.stop();
  });

  it.each([
    [0, 'completed', 'running'],
    [1, 'failed', 'blocked'],
  ])('ONESHOT exiting %i → %s, dependant %s', async (code, oneshotState, appState) => {
    const t = setup(`
SERVICE migrate
RUN migrate
ONESHOT true
SERVICE app
RUN app
REQUIRES migrate
`);
    t.runner.script('migrate', { exitCode: code });
    await t.ex.start();
    expect(t.state('migrate')).toBe(oneshotState);
    expect(t.state('app')).toBe(appState);
    await t.ex.stop();
  });

  describe('ONESHOT ready markers', () => {
    const graph = (cmd: string) => `
SERVICE migrate
RUN ${cmd}
ONESHOT true
SERVICE app
RUN app
REQUIRES migrate
`;
    const dir = mkdtempSync(join(tmpdir(), 'orch-ready-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const runs = async (cmd: string, extra: Partial<GraphExecutorOptions> = {}, code = 0) => {
      const t = setup(graph(cmd), undefined, { readyDir: dir, ...extra });
      t.runner.script('migrate', { exitCode: code });
      await t.ex.start();
      const ran = t.runner.processes.filter((p) => p.spec.name === 'migrate').length;
      const states = { migrate: t.state('migrate'), app: t.state('app') };
      await t.ex.stop();
      return { ran, states, message: t.ex.status()[0]!.message };
    };

    it('runs once per definition; --force and a changed definition run it again; a failure clears it', async () => {
      expect(await runs('migrate')).toMatchObject({
        ran: 1,
        states: { migrate: 'completed', app: 'running' },
      });
      expect(readMarker(dir, 'migrate')?.hash).toMatch(/^[0-9a-f]{16}$/);
      const again = await runs('migrate');
      expect(again).toMatchObject({ ran: 0, states: { migrate: 'completed', app: 'running' } });
      expect(again.message).toContain('not run again');
      expect(await runs('migrate', { force: true })).toMatchObject({ ran: 1 });
      expect(await runs('migrate --v2')).toMatchObject({ ran: 1 });
      expect(await runs('migrate --v2')).toMatchObject({ ran: 0 });
      expect(await runs('migrate --v2', { force: true }, 1)).toMatchObject({
        ran: 1,
        states: { migrate: 'failed', app: 'blocked' },
      });
      expect(readMarker(dir, 'migrate')).toBeUndefined();
      expect(await runs('migrate --v2')).toMatchObject({ ran: 1 });
    });
  });

  it('a dependant keeps running when its required service ends for good (systemd Requires=)', async () => {
    const t = setup(`
SERVICE db
RUN db
SERVICE web
RUN serve
REQUIRES db
`);
    await t.ex.start();
    expect(t.state('web')).toBe('running');
    t.runner.exit('db', 1);
    await t.clock.advance(0);
    expect(t.state('db')).toBe('failed');
    expect(t.state('web')).toBe('running');
    expect(t.runner.latest('web')!.signals).toEqual([]);
    await t.ex.stop();
  });

  it('a dependant comes back with a restarting required service, and keeps running when that one then gives up', async () => {
    const t = setup(`
SERVICE db
RUN db
RESTART on-failure
RESTART_DELAY 1s
START_LIMIT_BURST 2
SERVICE web
RUN serve
REQUIRES db
`);
    await t.ex.start();
    t.runner.exit('db', 1);
    await t.clock.advance(0);
    expect(t.state('db')).toBe('restarting');
    expect(t.state('web')).toBe('pending');
    await t.clock.advance(1000);
    expect(t.state('web')).toBe('running');
    t.runner.exit('db', 1);
    await t.clock.advance(0);
    expect(t.state('db')).toBe('gave-up');
    expect(t.state('web')).toBe('running');
    expect(t.runner.processes.map((p) => p.spec.name)).toEqual(['db', 'web', 'db', 'web']);
    await t.ex.stop();
  });

  it('re-checks a running service: 3 failed HEALTHCHECKs in a row → unhealthy (reported only), a pass → healthy', async () => {
    const t = setup(`
SERVICE db
RUN db
HEALTHCHECK db-check
RESTART always
SERVICE web
RUN serve
REQUIRES db
`);
    t.healthy.add('db-check');
    const started = t.ex.start();
    await t.clock.advance(0);
    await started;
    const health = () => t.ex.status().find((s) => s.name === 'db')!.health;
    expect([t.state('db'), health()]).toEqual(['running', 'healthy']);
    t.healthy.delete('db-check');
    await t.clock.advance(30_000);
    await t.clock.advance(30_000);
    expect(health()).toBe('healthy'); // two failures: not yet
    await t.clock.advance(30_000);
    expect([t.state('db'), health(), t.state('web')]).toEqual(['running', 'unhealthy', 'running']);
    expect(t.ex.status().find((s) => s.name === 'db')!.message).toBe(
      'unhealthy: HEALTHCHECK failed 3 times in a row: down',
    );
    expect(t.events.filter((e) => e.health !== undefined).map((e) => [e.service, e.state, e.health])).toEqual(
      [['db', 'running', 'unhealthy']],
    );
    t.healthy.add('db-check');
    await t.clock.advance(30_000);
    expect(health()).toBe('healthy');
    // Reported, not acted on: nothing was restarted.
    expect(t.runner.processes.map((p) => p.spec.name)).toEqual(['db', 'web']);
    expect(t.events.filter((e) => e.health !== undefined).map((e) => e.health)).toEqual([
      'unhealthy',
      'healthy',
    ]);
    await t.ex.stop();
  });

  it('a dependant waits for a restarting required service and comes back with it', async () => {
    const t = setup(`
SERVICE db
RUN db
RESTART on-failure
RESTART_DELAY 2s
SERVICE web
RUN serve
REQUIRES db
`);
    await t.ex.start();
    t.runner.exit('db', 1);
    await t.clock.advance(0);
    expect(t.state('db')).toBe('restarting');
    expect(t.state('web')).toBe('pending');
    await t.clock.advance(2000);
    expect(t.state('db')).toBe('running');
    expect(t.state('web')).toBe('running');
    expect(t.runner.processes.map((p) => p.spec.name)).toEqual(['db', 'web', 'db', 'web']);
    await t.ex.stop();
  });

  it('on-failure restarts until START_LIMIT_BURST starts within START_LIMIT_INTERVAL, then gives up', async () => {
    const t = setup(`
SERVICE flaky
RUN flaky
RESTART on-failure
RESTART_DELAY 1s
START_LIMIT_BURST 3
START_LIMIT_INTERVAL 30s
`);
    t.runner.script('flaky', { exitCode: 2 });
    await t.ex.start();
    await t.clock.advance(5000);
    expect(t.state('flaky')).toBe('gave-up');
    expect(t.runner.processes).toHaveLength(3);
    const s = t.ex.status()[0]!;
    expect(s.restarts).toBe(2);
    expect(s.exitCode).toBe(2);
    expect(s.message).toContain('start limit hit (3 starts within 30s)');
    await t.ex.idle();
    await t.ex.stop();
  });

  it.each([
    ['no', 0, 'exited', 1],
    ['on-failure', 0, 'exited', 1],
    ['always', 0, 'gave-up', 5],
    ['no', 3, 'failed', 1],
  ])('RESTART %s, exit %i → %s after %i starts', async (policy, code, state, starts) => {
    const t = setup(`
SERVICE svc
RUN svc
RESTART ${policy}
`);
    t.runner.script('svc', { exitCode: code });
    await t.ex.start();
    await t.clock.advance(10_000);
    expect(t.state('svc')).toBe(state);
    expect(t.runner.processes).toHaveLength(starts);
    await t.ex.stop();
  });

  it('stop() stops dependants before their dependencies', async () => {
    const t = setup(`
SERVICE db
FROM ${IMAGE}
SERVICE api
RUN api
REQUIRES db
SERVICE web
RUN web
AFTER api
`);
    await t.ex.start();
    expect(t.starts()).toEqual(['db', 'api', 'web']);
    await t.ex.stop();
    expect(t.events.filter((e) => e.state === 'stopped').map((e) => e.service)).toEqual(['web', 'api', 'db']);
    expect(t.engine.calls.filter((c) => c.method === 'stopContainer')).toHaveLength(1);
    expect((await t.engine.inspectContainer('proj-db'))?.state).toBe('exited');
    expect(t.runner.processes.every((p) => !p.alive)).toBe(true);
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it.each([
    [undefined, ['web', 'db']],
    [['tool'], ['tool']],
    [['job'], ['db', 'job']],
  ])('DISABLED services run only when named or required (named %j)', async (names, expected) => {
    const t = setup(
      `
SERVICE db
RUN db
DISABLED true
SERVICE web
RUN web
REQUIRES db
SERVICE tool
RUN tool
DISABLED true
SERVICE job
RUN job
REQUIRES db
DISABLED true
`,
      names,
    );
    expect(t.ex.services.sort()).toEqual([...expected].sort());
    await t.ex.start();
    await t.ex.stop();
  });

  it('a container that crashes is restarted by policy', async () => {
    const t = setup(`
SERVICE web
FROM ${IMAGE}
PUBLISH 8080:80
RESTART always
RESTART_DELAY 1s
`);
    await t.ex.start();
    t.engine.crash('proj-web', 137);
    await t.clock.advance(0);
    await t.clock.advance(0);
    expect(t.state('web')).toBe('restarting');
    await t.clock.advance(1000);
    expect(t.state('web')).toBe('running');
    expect(t.ex.status()[0]).toMatchObject({ restarts: 1, exitCode: 137, containerName: 'proj-web' });
    expect(t.engine.specOf('proj-web')!.ports).toEqual([{ containerPort: 80, hostPort: 8080 }]);
    await t.ex.stop();
  });

  it('applies container resource options without warnings, and warns about a relative WORKDIR', async () => {
    const t = setup(`
SERVICE web
FROM ${IMAGE}
MEMORY 512M
CPUS 1
WORKDIR app
`);
    await t.ex.start();
    expect(t.engine.specOf('proj-web')).toMatchObject({ memoryBytes: 512 * 2 ** 20, nanoCpus: 1e9 });
    expect(t.events.filter((e) => e.warning === true).map((e) => e.message)).toEqual([
      expect.stringContaining('WORKDIR app not applied'),
    ]);
    await t.ex.stop();
  });

  it('rejects an unknown service name', () => {
    expect(() => setup('SERVICE a\nRUN a\n', ['b'])).toThrow(/no service named 'b'/);
  });
});

describe('GraphExecutor adoption (detach, then a new executor takes over)', () => {
  const GRAPH = `
SERVICE db
FROM ${IMAGE}
RECREATE always
SERVICE web
RUN serve
REQUIRES db
`;

  function next(t: ReturnType<typeof setup>, adopt: Record<string, { pid?: number; containerId?: string }>) {
    const r = parseOrchfiles([{ path: 'Orchfile', text: GRAPH }]);
    if (!r.ok) throw new Error('parse');
    return new GraphExecutor({
      graph: r.graph,
      project: 'proj',
      vars: { ORCH_PROJECT: '/tmp' },
      processes: t.runner,
      engine: t.engine,
      clock: t.clock,
      baseEnv: {},
      adopt,
      adoptPollMs: 100,
    });
  }

  it('takes the running process and container over without spawning or creating (even RECREATE always)', async () => {
    const t = setup(GRAPH);
    await t.ex.start();
    const left = await t.ex.detach();
    const adopt = Object.fromEntries(left.map((s) => [s.name, s]));
    const creates = t.engine.calls.filter((c) => c.method === 'createContainer').length;
    const ex2 = next(t, adopt);
    await ex2.start();
    expect(ex2.status().map((s) => s.state)).toEqual(['running', 'running']);
    expect(t.runner.processes).toHaveLength(1);
    expect(t.engine.calls.filter((c) => c.method === 'createContainer')).toHaveLength(creates);
    expect(ex2.status()[1]!.pid).toBe(left[1]!.pid);
    expect(ex2.status()[0]!.containerId).toBe(left[0]!.containerId);
    // An adopted process that dies is noticed by polling and restarted per its policy (no: exited).
    t.runner.exit('web', 0);
    await t.clock.advance(100);
    expect(ex2.status()[1]!.state).toBe('failed');
    await ex2.stop();
  });

  it('starts afresh when the recorded process is gone, and stop() ends a record never taken over', async () => {
    const t = setup(GRAPH);
    await t.ex.start();
    const left = await t.ex.detach();
    t.runner.exit('web', 0);
    const ex2 = next(t, Object.fromEntries(left.map((s) => [s.name, s])));
    await ex2.start();
    expect(t.runner.processes).toHaveLength(2);
    await ex2.stop();
    expect(t.runner.running('web')).toEqual([]);
  });
});
