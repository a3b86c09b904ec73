// The controller machinery end to end, in-process: a fake source applies snapshots to the
// store, the manager runs it and a controller, and a fake reconciler sets conditions.
import { filter, firstValueFrom, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ApiObject, ObjectStatus } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import {
  Controller,
  EventRecorder,
  Manager,
  markReady,
  newRegistry,
  reconcilerFunc,
  RuntimeMetrics,
  Store,
  type Snapshot,
  type SyncingRunnable,
} from '../../runtime/index.ts';

const KINDS = ['Deployment'];
const dep = (name: string, image: string): ApiObject => ({
  apiVersion: 'run.orcra.dev/v0alpha',
  kind: 'Deployment',
  metadata: { name },
  spec: { image },
});

/** A source that applies whatever snapshot the test pushes, like GitSource after each fetch. */
class FakeSource implements SyncingRunnable {
  readonly name = 'fake-source';
  readonly #store: Store;
  readonly #initial: Snapshot;
  constructor(store: Store, initial: Snapshot) {
    this.#store = store;
    this.#initial = initial;
  }
  hasSynced(): boolean {
    return this.#store.hasSynced();
  }
  push(snapshot: Snapshot): void {
    this.#store.apply(snapshot);
  }
  async start(signal: AbortSignal): Promise<void> {
    this.#store.apply(this.#initial);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}

/** Emits after every reconcile the test's reconciler logs: tests wait on it, never on time. */
const logged = new Subject<void>();

/** Resolves when `fn` holds, checked after each logged reconcile (the test's timeout bounds it). */
async function until(what: string, fn: () => boolean): Promise<void> {
  if (fn()) return;
  await firstValueFrom(logged.pipe(filter(fn)), { defaultValue: undefined }).then(() => {
    if (!fn()) throw new Error(`gave up waiting for ${what}`);
  });
}

describe('controller machinery', () => {
  it('adds, updates and deletes flow to reconciles in order, with conditions and events set', async () => {
    const store = new Store();
    const registry = newRegistry();
    const events = new EventRecorder();
    const recorder = events.for('deployment-controller');
    const source = new FakeSource(store, {
      kinds: KINDS,
      objects: [dep('web', 'web:1'), dep('db', 'db:1')],
      revision: 'c1',
    });
    const log: string[] = [];
    const controller = new Controller({
      name: 'deployment',
      workers: 2,
      metrics: new RuntimeMetrics(registry),
      reconciler: reconcilerFunc(async ({ key }) => {
        await Promise.resolve();
        const [, name = ''] = key.split('/');
        const obj = store.get<ApiObject<'Deployment', { image: string }>>('Deployment', name);
        if (!obj) {
          log.push(`${key} gone`);
          logged.next();
          return;
        }
        log.push(`${key} ${obj.spec.image} gen=${obj.metadata.generation}`);
        logged.next();
        const gen = obj.metadata.generation;
        store.updateStatus<ObjectStatus>('Deployment', name, (old) => ({
          observedGeneration: gen,
          conditions: markReady(
            old?.conditions,
            { reason: 'Succeeded', message: `running ${obj.spec.image}`, observedGeneration: gen },
            Date.now(),
          ),
        }));
        recorder.event(obj, 'Normal', 'Reconciled', `running ${obj.spec.image}`);
      }),
    });
    controller.watch(store, 'Deployment');
    const manager = new Manager({ syncPollMs: 1 });
    manager.addSource(source);
    manager.addController(controller);
    const ac = new AbortController();
    const run = manager.start(ac.signal);

    await until('initial reconciles', () => log.length === 2);
    expect([...log].sort()).toEqual(['Deployment/db db:1 gen=1', 'Deployment/web web:1 gen=1']);
    expect(store.get('Deployment', 'web')?.status).toMatchObject({
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Succeeded',
          message: 'running web:1',
          observedGeneration: 1,
        },
      ],
    });

    source.push({ kinds: KINDS, objects: [dep('web', 'web:2'), dep('db', 'db:1')], revision: 'c2' });
    await until('update reconcile', () => log.length === 3);
    source.push({ kinds: KINDS, objects: [dep('web', 'web:2')], revision: 'c3' });
    await until('delete reconcile', () => log.length === 4);
    // A status-only write never re-triggers the controller: the queue saw exactly one add per
    // change (a wrong status-triggered reconcile is an add, made in the same synchronous step as
    // the status write, so it would already be counted here).
    expect(await registry.getSingleMetricAsString('workqueue_adds_total')).toContain(
      'workqueue_adds_total{name="deployment"} 4',
    );
    expect(log.slice(2)).toEqual(['Deployment/web web:2 gen=2', 'Deployment/db gone']);
    expect(store.get('Deployment', 'web')?.status?.conditions?.[0]).toMatchObject({
      message: 'running web:2',
      observedGeneration: 2,
    });
    expect(
      events.list({ key: 'Deployment/web' }).map((e) => `${e.reason}: ${e.message} x${e.count}`),
    ).toEqual(['Reconciled: running web:1 x1', 'Reconciled: running web:2 x1']);

    ac.abort();
    await run;
    expect(await registry.getSingleMetricAsString('controller_runtime_reconcile_total')).toContain(
      'controller_runtime_reconcile_total{controller="deployment",result="success"} 4',
    );
  });
});
