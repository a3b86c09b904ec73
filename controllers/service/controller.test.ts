import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import { FakeCaddyAdmin } from '../../runtime/caddy/index.ts';
import { RealClock } from '../../runtime/clock/index.ts';
import { EventRecorder } from '../../runtime/events/index.ts';
import { Store, type StoreEvent } from '../../runtime/store/index.ts';
import { newServiceController, routingChanged } from './controller.ts';
import { dep, FakeCertificates, setReady, svc } from './harness.ts';

/** The fake Caddy plus the supervisor's onReady, which the test fires like a restart. */
class RestartableCaddy extends FakeCaddyAdmin {
  readonly listeners = new Set<() => void>();
  onReady(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  restart(): void {
    for (const l of this.listeners) l();
  }
}

describe('ServiceController (real Store, Controller, EventRecorder; fake Caddy)', () => {
  it('loads the empty table at start, follows Service and Deployment changes, reloads after a Caddy restart', async () => {
    const clock = new RealClock();
    const store = new Store({ clock });
    const caddy = new RestartableCaddy();
    const recorder = new EventRecorder({ clock });
    const ctrl = newServiceController({
      store,
      caddy,
      clock,
      events: recorder.for('service-controller'),
      registry: new Registry(),
      branch: () => 'main',
      checkCertificate: new FakeCertificates().check,
    });
    const stop = new AbortController();
    const running = ctrl.start(stop.signal);
    await vi.waitFor(() => expect(caddy.loads).toHaveLength(1));

    store.apply({ kinds: ['Service', 'Deployment'], objects: [svc('web'), dep('web')] });
    const ready = () =>
      (store.get('Service', 'web')?.status as ServiceStatus | undefined)?.conditions?.find(
        (c) => c.type === 'Ready',
      );
    await vi.waitFor(() => expect(ready()?.reason).toBe('DeploymentNotReady'));
    setReady(store, 'web', true);
    await vi.waitFor(() => expect(ready()?.reason).toBe('Routed'));
    const loads = caddy.loads.length;

    caddy.restart();
    await vi.waitFor(() => expect(caddy.loads.length).toBe(loads + 1));
    expect(caddy.listeners.size).toBe(1);

    stop.abort();
    await running;
    expect(caddy.listeners.size).toBe(0);
    expect(recorder.list({ key: 'Service/web' }).map((e) => e.reason)).toEqual(['Routed']);
  });
});

describe('routingChanged', () => {
  const ev = (
    statusOnly: boolean,
    oldStatus: object | undefined,
    status: object | undefined,
  ): StoreEvent => ({
    type: 'MODIFIED',
    specChanged: !statusOnly,
    statusOnly,
    object: { apiVersion: 'v', kind: 'Deployment', metadata: { name: 'd' }, spec: {}, status },
    oldObject: {
      apiVersion: 'v',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {},
      status: oldStatus,
    },
  });
  const ports = [{ containerPort: 80, port: 8080, protocol: 'tcp' }];
  it.each([
    { name: 'spec change', e: ev(false, {}, {}), want: true },
    { name: 'became ready', e: ev(true, { ready: false }, { ready: true, ports }), want: true },
    {
      name: 'ports changed',
      e: ev(true, { ready: true, ports }, { ready: true, ports: [{ ...ports[0], port: 9 }] }),
      want: true,
    },
    {
      name: 'probe timestamp only',
      e: ev(
        true,
        { ready: true, ports, lastProbe: { time: '1' } },
        { ready: true, ports, lastProbe: { time: '2' } },
      ),
      want: false,
    },
  ])('$name → $want', ({ e, want }) => expect(routingChanged(e)).toBe(want));
});
