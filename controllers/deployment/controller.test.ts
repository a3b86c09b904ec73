import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import { FakeEngine } from '../../runtime/docker/fake.ts';
import { EventRecorder } from '../../runtime/events/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { deploymentKeyForEvent, managedDeploymentKeys, watchContainerEvents } from './engine-events.ts';
import { Label } from './desired.ts';
import { newDeploymentController } from './controller.ts';
import type { DeploymentSpecView, DeploymentStatusView } from './spec.ts';

const IMAGE = 'orun-test/busybox:1';

function dep(name: string, spec: DeploymentSpecView): ApiObject {
  return { apiVersion: 'run.orcra.dev/v0alpha', kind: 'Deployment', metadata: { name }, spec };
}

describe('DeploymentController (real Store, Controller and EventRecorder; fake engine)', () => {
  it('converges from store events, reacts to a die event at once, prunes deletions and orphans, leaves containers on stop', async () => {
    const clock = new FakeClock();
    const engine = new FakeEngine({ now: () => clock.now(), images: [IMAGE] });
    const store = new Store({ clock });
    const recorder = new EventRecorder({ clock });
    // a container of a Deployment that left Git while orun was down
    const ghost = await engine.createContainer({
      name: 'orun-ghost',
      image: IMAGE,
      labels: { [Label.managedBy]: 'orun', [Label.deployment]: 'ghost' },
    });
    store.apply({
      kinds: ['Deployment'],
      objects: [
        dep('a', { image: IMAGE, ports: [{ containerPort: 80, port: 8080 }] }),
        dep('b', { image: IMAGE, ports: [{ containerPort: 80, port: 8081 }] }),
      ],
    });
    const ctrl = newDeploymentController({
      engine,
      store,
      events: recorder.for('deployment-controller'),
      clock,
      registry: new Registry(),
    });
    const stop = new AbortController();
    const running = ctrl.start(stop.signal);

    const status = (name: string) =>
      store.getByKey(`Deployment/${name}`)?.status as DeploymentStatusView | undefined;
    await vi.waitFor(() => {
      expect(status('a')?.ready).toBe(true);
      expect(status('b')?.ready).toBe(true);
      expect(engine.calls.some((c) => c.method === 'removeContainer' && c.args[0] === ghost)).toBe(true);
    });
    expect(recorder.list({ key: 'Deployment/ghost' }).map((e) => e.reason)).toEqual(['Pruned']);

    engine.crash(status('a')?.containerName ?? 'a', 3);
    await vi.waitFor(() =>
      expect(status('a')?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('CrashLoopBackOff'),
    );
    expect(recorder.list({ key: 'Deployment/a' }).find((e) => e.reason === 'BackOff')?.source).toBe(
      'deployment-controller',
    );

    store.apply({
      kinds: ['Deployment'],
      objects: [dep('a', { image: IMAGE, ports: [{ containerPort: 80, port: 8080 }] })],
    });
    await vi.waitFor(async () =>
      expect(await engine.listContainers({ [Label.deployment]: 'b' })).toEqual([]),
    );

    const before = engine.calls.length;
    stop.abort();
    await running;
    expect(
      engine.calls.slice(before).filter((c) => ['stopContainer', 'removeContainer'].includes(c.method)),
    ).toEqual([]);
    expect(await engine.listContainers({ [Label.deployment]: 'a' })).toHaveLength(1);
  });
});

describe('engine event mapping', () => {
  it.each([
    [{ [Label.managedBy]: 'orun', [Label.deployment]: 'web' }, 'Deployment/web'],
    [{ [Label.deployment]: 'web' }, undefined],
    [{ [Label.managedBy]: 'orun' }, undefined],
    [{}, undefined],
  ])('labels %j → %s', (labels, key) => {
    expect(deploymentKeyForEvent({ labels })).toBe(key);
  });

  it("watchContainerEvents drops what `ignore` says (the controller: a reconcile's own starts), keeps the rest", async () => {
    const engine = new FakeEngine({ images: [IMAGE] });
    const managed = { [Label.managedBy]: 'orun', [Label.deployment]: 'x' };
    const seen: string[] = [];
    const stop = new AbortController();
    const watching = watchContainerEvents(
      engine,
      stop.signal,
      (key) => seen.push(key),
      undefined,
      (e) => e.action === 'start',
    );
    const id = await engine.createContainer({ name: 'x1', image: IMAGE, labels: managed });
    await engine.startContainer(id);
    engine.crash('x1', 1);
    await vi.waitFor(() => expect(seen).toEqual(['Deployment/x']));
    stop.abort();
    await watching;
  });

  it('managedDeploymentKeys lists each owning Deployment once, ignoring unmanaged containers', async () => {
    const engine = new FakeEngine({ images: [IMAGE] });
    const managed = (d: string) => ({ [Label.managedBy]: 'orun', [Label.deployment]: d });
    await engine.createContainer({ name: 'x1', image: IMAGE, labels: managed('x') });
    await engine.createContainer({ name: 'x2', image: IMAGE, labels: managed('x') });
    await engine.createContainer({ name: 'y', image: IMAGE, labels: managed('y') });
    await engine.createContainer({ name: 'z', image: IMAGE, labels: { [Label.deployment]: 'z' } });
    expect(await managedDeploymentKeys(engine)).toEqual(['Deployment/x', 'Deployment/y']);
  });
});
