import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceGraph, ServiceGraphStatus } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import { FakeEngine } from '../../runtime/docker/fake.ts';
import { silentLogger } from '../../runtime/log/index.ts';
import { FakeProcessRunner } from '../../runtime/process/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { ServiceGraphReconciler } from './reconciler.ts';
import { readRunState } from '../../runtime/graph/index.ts';

const IMAGE = 'orun-test/busybox:1';
const NODE = 'edge-1';

const GRAPH = (web = 'serve --port 8080', env = 'MODE=a') => `
SERVICE db
FROM ${IMAGE}
ENV ${env}
VOLUME data:/var/lib/data
HEALTHCHECK http://127.0.0.1:5432/
SERVICE web
RUN ${web}
REQUIRES db
HEALTHCHECK http://127.0.0.1:8080/health
`;

interface Ev {
  name: string;
  type: string;
  reason: string;
  message: string;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

class World {
  readonly clock = new FakeClock();
  readonly runner = new FakeProcessRunner();
  readonly engine = new FakeEngine({ images: [IMAGE], now: () => this.clock.now() });
  readonly store = new Store({ clock: this.clock });
  readonly repo = mkdtempSync(join(tmpdir(), 'sg-repo-'));
  readonly dataDir = mkdtempSync(join(tmpdir(), 'sg-data-'));
  readonly registry = new Registry();
  readonly healthy = new Set(['http://127.0.0.1:5432/', 'http://127.0.0.1:8080/health']);
  readonly events: Ev[] = [];
  readonly enqueued: string[] = [];
  /** Process identities by pid (a changed one is a reused pid). */
  readonly identities = new Map<number, string>();
  commit = 'c1';
  /** False: a newer revision is being checked out (no checkout matches the store). */
  checkedOut = true;
  /** What the engine health says (EngineHealth.status().available). */
  engineAvailable = true;
  reconciler: ServiceGraphReconciler;

  constructor() {
    dirs.push(this.repo, this.dataDir);
    this.reconciler = this.newReconciler();
  }

  /** A fresh reconciler on the same fakes and data dir: an orun restart. */
  newReconciler(): ServiceGraphReconciler {
    this.reconciler = new ServiceGraphReconciler({
      store: this.store,
      engine: this.engine,
      processes: this.runner,
      clock: this.clock,
      checkout: () => (this.checkedOut ? { dir: this.repo, commit: this.commit } : undefined),
      dataDir: this.dataDir,
      nodeName: NODE,
      recordEvent: (name, type, reason, message) => this.events.push({ name, type, reason, message }),
      enqueue: (key) => this.enqueued.push(key),
      registry: this.registry,
      baseEnv: {},
      processIdentity: (pid) => this.identities.get(pid) ?? `id-${pid}`,
      healthChecker: (check) =>
        Promise.resolve({ ok: this.healthy.has(check), message: this.healthy.has(check) ? 'ok' : 'down' }),
      adoptPollMs: 100,
      engineStatus: () => ({
        available: this.engineAvailable,
        message: 'connect ENOENT /var/run/docker.sock',
      }),
    });
    return this.reconciler;
  }

  write(text: string, path = 'Orchfile'): void {
    writeFileSync(join(this.repo, path), text);
  }

  apply(specs: Record<string, ServiceGraph['spec']>): void {
    this.store.apply({
      kinds: ['ServiceGraph'],
      objects: Object.entries(specs).map(([name, spec]) => ({
        apiVersion: 'run.orcra.dev/v0alpha',
        kind: 'ServiceGraph',
        metadata: { name, annotations: { 'run.orcra.dev/source': `servicegraphs/${name}.yaml@c1` } },
        spec,
      })),
    });
  }

  /** Reconciles, lets the executor settle, and reconciles again for the status. */
  async converge(name = 'stack'): Promise<void> {
    await this.reconcile(name);
    for (let i = 0; i < 5; i++) await this.clock.advance(500);
    await this.reconcile(name);
  }

  async reconcile(name = 'stack'): Promise<unknown> {
    return this.reconciler.reconcile({
      key: `ServiceGraph/${name}`,
      signal: new AbortController().signal,
      log: silentLogger(),
      reconcileID: 'r1',
    });
  }

  status(name = 'stack'): ServiceGraphStatus {
    return (this.store.get<ServiceGraph>('ServiceGraph', name)?.status ?? {}) as ServiceGraphStatus;
  }

  condition(type: string, name = 'stack') {
    return this.status(name).conditions?.find((c) => c.type === type);
  }

  calls(method: string): number {
    return this.engine.calls.filter((c) => c.method === method).length;
  }

  row(service: string) {
    return this.status().services?.find((s) => s.name === service);
  }
}

async function running(): Promise<World> {
  const w = new World();
  w.write(GRAPH());
  w.apply({ stack: { orchfiles: ['Orchfile'], args: {} } });
  await w.converge();
  return w;
}

describe('ServiceGraphReconciler', () => {
  it('starts the graph in order and reports every service ready', async () => {
    const w = await running();
    expect(w.condition('Ready')).toMatchObject({ status: 'True', reason: 'ServicesReady' });
    expect(w.status().observedGeneration).toBe(1);
    expect(w.status().services).toEqual([
      expect.objectContaining({
        name: 'db',
        state: 'Running',
        ready: true,
        restarts: 0,
        containerID: expect.any(String) as unknown,
      }),
      expect.objectContaining({ name: 'web', state: 'Running', ready: true, pid: 1000 }),
    ]);
    const c = w.engine.specOf('orun-sg-stack-db')!;
    expect(c.labels).toMatchObject({
      'run.orcra.dev/managed-by': 'orun-servicegraph',
      'run.orcra.dev/servicegraph': 'stack',
      'run.orcra.dev/node': NODE,
      'orch.project': 'stack',
    });
    // The project network, as `orch up -p stack` names it: service names resolve on it.
    expect(c.network).toEqual({ name: 'stack_default', aliases: ['db'] });
    const web = w.runner.latest('web')!;
    expect(web.spec.cwd).toBe(w.repo);
    expect(web.spec.stdout).toEqual({ file: join(w.dataDir, 'servicegraphs/stack/logs/web.log') });
    expect(w.events.map((e) => e.reason)).toEqual(['Starting', 'Started', 'Started', 'Ready']);
    expect(w.enqueued.every((k) => k === 'ServiceGraph/stack')).toBe(true);
    expect(await w.registry.getSingleMetricAsString('orun_servicegraph_services')).toContain(
      'orun_servicegraph_services{servicegraph="stack",state="running"} 2',
    );
    expect(
      readRunState(join(w.dataDir, 'servicegraphs/stack/run.json'))?.services.map((s) => s.name),
    ).toEqual(['db', 'web']);
  });

  it('is Reconciling while a service is not healthy yet', async () => {
    const w = new World();
    w.healthy.delete('http://127.0.0.1:8080/health');
    w.write(GRAPH());
    w.apply({ stack: { orchfiles: ['Orchfile'], args: {} } });
    await w.converge();
    expect(w.condition('Reconciling')).toMatchObject({ status: 'True' });
    expect(w.condition('Ready')).toMatchObject({ status: 'False', message: 'waiting for web (starting)' });
    expect(w.row('web')).toMatchObject({ state: 'Starting', ready: false });
  });

  it('a running service that fails its HEALTHCHECK 3 times in a row is not ready (Unhealthy event), nothing restarted', async () => {
    const w = await running();
    const pid = w.row('web')!.pid;
    w.healthy.delete('http://127.0.0.1:8080/health');
    for (let i = 0; i < 3; i++) await w.clock.advance(30_000);
    await w.reconcile();
    expect(w.condition('Ready')).toMatchObject({ status: 'False' });
    expect(w.row('web')).toMatchObject({ state: 'Running', ready: false, pid });
    expect(w.events.filter((e) => e.reason === 'Unhealthy')).toEqual([
      {
        name: 'stack',
        type: 'Warning',
        reason: 'Unhealthy',
        message: 'web: unhealthy: HEALTHCHECK failed 3 times in a row: down',
      },
    ]);
    w.healthy.add('http://127.0.0.1:8080/health');
    await w.clock.advance(30_000);
    await w.reconcile();
    expect(w.condition('Ready')).toMatchObject({ status: 'True' });
    expect(w.row('web')).toMatchObject({ state: 'Running', ready: true, pid });
    expect(w.events.map((e) => e.reason).slice(-3)).toEqual(['Unhealthy', 'Healthy', 'Ready']);
    expect(w.runner.processes).toHaveLength(1);
  });

  it('a change to one service restarts it only; a change to its requirement restarts both', async () => {
    const w = await running();
    const db = w.row('db')!.containerID;
    const creates = w.calls('createContainer');
    w.write(GRAPH('serve --port 8080 --v2'));
    await w.converge();
    expect(w.runner.processes).toHaveLength(2);
    expect(w.runner.processes[0]!.signals).toEqual(['SIGTERM']);
    expect(w.row('web')).toMatchObject({ pid: 1001, state: 'Running' });
    expect(w.row('db')!.containerID).toBe(db);
    expect(w.calls('createContainer')).toBe(creates);
    expect(w.calls('stopContainer')).toBe(0);

    w.write(GRAPH('serve --port 8080 --v2', 'MODE=b'));
    await w.converge();
    expect(w.row('db')!.containerID).not.toBe(db);
    expect(w.engine.specOf('orun-sg-stack-db')!.env).toContain('MODE=b');
    expect(w.row('web')).toMatchObject({ pid: 1002, state: 'Running' });
    expect(w.condition('Ready')?.status).toBe('True');
    expect(w.events.filter((e) => e.reason === 'Updating').map((e) => e.message)[1]).toMatch(
      /adopting none; \(re\)starting db, web; stopped web, db$/,
    );
  });

  it('ARGs come from spec.args; spec.services selects (a DISABLED one included)', async () => {
    const w = new World();
    w.write(
      'ARG port=1\nSERVICE a\nRUN a --port ${port}\nSERVICE b\nRUN b\nDISABLED true\nSERVICE c\nRUN c\n',
    );
    w.apply({ stack: { orchfiles: ['Orchfile'], args: { port: '9' }, services: ['a', 'b'] } });
    await w.converge();
    expect(w.runner.processes.map((p) => p.spec.command)).toEqual(['a --port 9', 'b']);
    expect(w.status().services?.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('Orchfile errors: Stalled with file:line:col for each, nothing running is touched', async () => {
    const w = await running();
    const calls = w.engine.calls.length;
    w.write('SERVICE db\nFROM x\nBOGUS 1\nSERVICE web\nRUN a\nREQUIRES nope\n');
    await w.reconcile();
    expect(w.condition('Stalled')).toMatchObject({ status: 'True', reason: 'OrchfileInvalid' });
    expect(w.condition('Stalled')?.message).toMatch(/^Orchfile:3:1: .*unknown directive 'BOGUS'/);
    expect(w.condition('Ready')?.status).toBe('False');
    expect(w.row('web')).toMatchObject({ state: 'Running', pid: 1000 });
    expect(w.engine.calls.slice(calls).map((c) => c.method)).toEqual([]);
    expect(w.runner.processes[0]!.signals).toEqual([]);
    expect(w.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'OrchfileInvalid' });
  });

  it.each([
    [['Orchfile', 'missing.orch'], /^missing\.orch:1:1: cannot read the Orchfile at c1: no such file/],
    [['Orchfile'], /^servicegraphs\/stack\.yaml:1:1: spec\.services: .*no service named 'zzz'/],
  ])('Stalled before anything starts: %j', async (orchfiles, message) => {
    const w = new World();
    w.write(GRAPH());
    w.apply({ stack: { orchfiles, args: {}, services: orchfiles.length === 1 ? ['zzz'] : undefined } });
    await w.reconcile();
    expect(w.condition('Stalled')?.message).toMatch(message);
    expect(w.runner.processes).toHaveLength(0);
    expect(w.calls('createContainer')).toBe(0);
  });

  it('deleted from Git: stops both, removes the container, keeps volumes, data and logs', async () => {
    const w = await running();
    // A named VOLUME is the Docker volume <project>_<name> (runtime/graph/container.ts).
    expect(await w.engine.volumeExists('stack_data')).toBe(true);
    w.apply({});
    await w.reconcile();
    expect(w.runner.running('web')).toEqual([]);
    expect(await w.engine.listContainers({ 'run.orcra.dev/servicegraph': 'stack' })).toEqual([]);
    expect(await w.engine.volumeExists('stack_data')).toBe(true);
    expect(await w.engine.inspectNetwork('stack_default')).toBeUndefined();
    expect(existsSync(join(w.dataDir, 'servicegraphs/stack/run.json'))).toBe(false);
    expect(w.events.at(-1)).toMatchObject({
      reason: 'Stopped',
      message: expect.stringContaining('1 container(s) removed') as unknown,
    });
    expect(await w.registry.getSingleMetricAsString('orun_servicegraph_services')).not.toContain('stack');
  });

  it('an orun restart adopts: no spawn, no create, same pid and container', async () => {
    const w = await running();
    const before = w.status().services;
    await w.reconciler.detachAll();
    const spawns = w.runner.processes.length;
    const creates = w.calls('createContainer');
    w.newReconciler();
    await w.converge();
    expect(w.runner.processes).toHaveLength(spawns);
    expect(w.calls('createContainer')).toBe(creates);
    expect(w.runner.processes[0]!.signals).toEqual([]);
    // The same rows; `since` is when this orun saw the state begin (the adoption).
    const withoutSince = (rows: typeof before) => rows?.map(({ since: _since, ...r }) => r);
    expect(withoutSince(w.status().services)).toEqual(withoutSince(before));
    expect(w.events.filter((e) => e.reason === 'Adopted')).toHaveLength(2);
    expect(w.condition('Ready')?.status).toBe('True');
  });

  it('after a restart, a changed Orchfile restarts what changed and adopts the rest', async () => {
    const w = await running();
    await w.reconciler.detachAll();
    w.write(GRAPH('serve --port 8080 --v2'));
    w.newReconciler();
    await w.converge();
    expect(w.runner.processes.map((p) => [p.pid, p.alive])).toEqual([
      [1000, false],
      [1001, true],
    ]);
    expect(w.calls('createContainer')).toBe(1);
  });

  it('a ONESHOT runs once: across restarts (SIGTERM and SIGKILL) and a change to another service; reconcile runs it again', async () => {
    const w = new World();
    const graph = (web: string) => `${GRAPH(web)}
SERVICE migrate
RUN migrate
ONESHOT true
REQUIRES db
`;
    w.write(graph('serve --port 8080'));
    w.apply({ stack: { orchfiles: ['Orchfile'], args: {} } });
    w.runner.script('migrate', { exitCode: 0 });
    const migrations = () => w.runner.processes.filter((p) => p.spec.name === 'migrate').length;
    await w.converge();
    expect(w.row('migrate')?.state).toBe('Completed');
    expect(migrations()).toBe(1);
    await w.reconciler.detachAll(); // SIGTERM: drained and detached
    w.newReconciler();
    await w.converge();
    w.newReconciler(); // SIGKILL: nothing detached, the run state on disk is all there is
    await w.converge();
    w.write(graph('serve --port 8080 --v2'));
    await w.converge();
    expect(w.row('web')).toMatchObject({ state: 'Running', ready: true });
    expect(w.row('migrate')).toMatchObject({
      state: 'Completed',
      message: expect.stringContaining('not run again') as unknown,
    });
    expect(migrations()).toBe(1);
    w.reconciler.rerunOneshots('stack');
    await w.converge();
    expect(migrations()).toBe(2);
    expect(w.row('migrate')?.state).toBe('Completed');
  });

  it('portOffset and containerPrefix: published host ports shifted, container names prefixed', async () => {
    const w = new World();
    w.write(`${GRAPH()}\nSERVICE pub\nFROM ${IMAGE}\nPUBLISH 127.0.0.1:8080:80\n`);
    w.apply({ stack: { orchfiles: ['Orchfile'], args: {}, portOffset: 100, containerPrefix: 'b-' } });
    await w.converge();
    expect(w.engine.specOf('b-orun-sg-stack-pub')?.ports).toEqual([
      { containerPort: 80, hostPort: 8180, hostIP: '127.0.0.1' },
    ]);
  });

  it('a recorded pid reused by another process is neither adopted nor killed', async () => {
    const w = await running();
    await w.reconciler.detachAll();
    w.identities.set(1000, 'someone-else');
    w.newReconciler();
    await w.converge();
    expect(w.runner.processes[0]!.signals).toEqual([]);
    expect(w.row('web')?.pid).toBe(1001);
  });

  it('deleted while orun was down: the next orun stops the recorded process and removes the container', async () => {
    const w = await running();
    await w.reconciler.detachAll();
    w.apply({});
    w.newReconciler();
    await w.reconcile();
    expect(w.runner.running('web')).toEqual([]);
    expect(await w.engine.listContainers({ 'run.orcra.dev/servicegraph': 'stack' })).toEqual([]);
  });

  it('a service that gives up makes the graph Stalled with Restarted and GaveUp events', async () => {
    const w = new World();
    w.write('SERVICE w\nRUN w\nRESTART always\nRESTART_DELAY 1s\nSTART_LIMIT_BURST 2\n');
    w.runner.script('w', { exitCode: 1 });
    w.apply({ stack: { orchfiles: ['Orchfile'], args: {} } });
    await w.converge();
    expect(w.condition('Stalled')).toMatchObject({ status: 'True', reason: 'ServiceFailed' });
    expect(w.row('w')).toMatchObject({ state: 'GaveUp', restarts: 1 });
    expect(w.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['Restarted', 'GaveUp']));
  });

  it('between a checkout and its snapshot, a running graph and its status are left alone', async () => {
    const w = await running();
    const before = w.status();
    w.checkedOut = false;
    expect(await w.reconcile()).toEqual({ requeueAfter: 1000 });
    expect(w.status()).toEqual(before);
  });

  it('reasons: Adopting after an orun restart, Updating after a change', async () => {
    const w = await running();
    await w.reconciler.detachAll();
    w.newReconciler();
    await w.converge();
    w.write(GRAPH('serve --v3'));
    await w.converge();
    expect(w.events.map((e) => e.reason).filter((r) => /ing$/.test(r))).toEqual([
      'Starting',
      'Adopting',
      'Updating',
    ]);
  });

  it('the engine away: Ready=Unknown/EngineUnavailable over the last known services, nothing changed; back: Ready again', async () => {
    const w = await running();
    const before = w.status().services;
    w.engine.setDown(true);
    w.engineAvailable = false;
    w.write(GRAPH('serve --port 8080 --v2')); // a change waits for the engine
    expect(await w.reconcile()).toEqual({ requeueAfter: 10_000 });
    expect(w.condition('Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'EngineUnavailable',
      message: expect.stringContaining('connect ENOENT') as string,
    });
    expect(w.condition('Stalled')?.status).not.toBe('True');
    expect(w.status().services).toEqual(before);
    expect(w.runner.processes.map((p) => [p.pid, p.alive])).toEqual([[1000, true]]);
    w.engine.setDown(false);
    w.engineAvailable = true;
    await w.converge();
    expect(w.condition('Ready')).toMatchObject({ status: 'True', reason: 'ServicesReady' });
    expect(w.runner.processes.map((p) => [p.pid, p.alive])).toEqual([
      [1000, false],
      [1001, true],
    ]);
  });

  it('an orun restart while the engine is away: EngineUnavailable, nothing started or stopped, adopted once it answers', async () => {
    const w = await running();
    await w.reconciler.detachAll();
    w.engine.setDown(true);
    w.newReconciler();
    expect(await w.reconcile()).toEqual({ requeueAfter: 10_000 });
    expect(w.condition('Ready')).toMatchObject({ status: 'Unknown', reason: 'EngineUnavailable' });
    expect(w.runner.processes.map((p) => [p.pid, p.alive, p.signals])).toEqual([[1000, true, []]]);
    w.engine.setDown(false);
    await w.converge();
    expect(w.condition('Ready')?.status).toBe('True');
    expect(w.events.filter((e) => e.reason === 'Adopted')).toHaveLength(2);
    expect(w.calls('createContainer')).toBe(1);
  });

  it('waits for a checkout before reading anything', async () => {
    const w = new World();
    w.apply({ stack: { orchfiles: ['Orchfile'], args: {} } });
    const r = new ServiceGraphReconciler({
      store: w.store,
      engine: w.engine,
      processes: w.runner,
      clock: w.clock,
      checkout: () => undefined,
      dataDir: w.dataDir,
      nodeName: NODE,
      recordEvent: () => undefined,
      enqueue: () => undefined,
    });
    const res = await r.reconcile({
      key: 'ServiceGraph/stack',
      signal: new AbortController().signal,
      log: silentLogger(),
      reconcileID: 'r',
    });
    expect(res).toEqual({ requeueAfter: 1000 });
    expect(w.condition('Reconciling')).toMatchObject({ reason: 'WaitingForCheckout' });
  });
});
