import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { DeploymentStatus } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import { FakeCaddyAdmin, FakeUpstreamDNS, UPSTREAM_TRANSPORT } from '../../runtime/caddy/index.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import { EventRecorder } from '../../runtime/events/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { ServiceReconcilerDeps } from './deps.ts';
import { ctx, dep, FakeCertificates, newStore, setReady, svc } from './harness.ts';
import { IngressReconciler } from './reconciler.ts';

interface World {
  clock: FakeClock;
  store: Store;
  caddy: FakeCaddyAdmin;
  certs: FakeCertificates;
  events: EventRecorder;
  registry: Registry;
  r: IngressReconciler;
  status(name: string): ServiceStatus | undefined;
  cond(name: string, type?: string): Condition | undefined;
  routesInCaddy(): unknown[];
  reasons(name: string): string[];
  metric(name: string): Promise<string>;
}

function world(objects: Parameters<typeof newStore>[1], extra: Partial<ServiceReconcilerDeps> = {}): World {
  const clock = new FakeClock();
  const store = newStore(clock, objects);
  const caddy = new FakeCaddyAdmin();
  const certs = new FakeCertificates();
  const events = new EventRecorder({ clock });
  const registry = new Registry();
  const sink = events.for('service-controller');
  const r = new IngressReconciler({
    store,
    caddy,
    clock,
    registry,
    branch: () => 'main',
    checkCertificate: certs.check,
    recordEvent: (name, type, reason, message) =>
      sink.event({ kind: 'Service', metadata: { name } }, type, reason, message),
    ...extra,
  });
  const status = (name: string) => store.get('Service', name)?.status as ServiceStatus | undefined;
  return {
    clock,
    store,
    caddy,
    certs,
    events,
    registry,
    r,
    status,
    cond: (name, type = 'Ready') => status(name)?.conditions?.find((c) => c.type === type),
    routesInCaddy: () => {
      const servers = (caddy.running?.apps as { http: { servers: Record<string, { routes: unknown[] }> } })
        .http.servers;
      return Object.values(servers).flatMap((s) => s.routes);
    },
    reasons: (name) => events.list({ key: `Service/${name}` }).map((e) => e.reason),
    metric: async (name) =>
      (await registry.getSingleMetricAsString(name))
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n'),
  };
}

describe('IngressReconciler', () => {
  it('ssl: routes to the published port, waits for the certificate, then is Ready with url and issuer', async () => {
    const w = world([svc('web', { ssl: true }), dep('web')]);
    setReady(w.store, 'web', true, [{ containerPort: 80, port: 32768 }]);

    expect(await w.r.reconcile(ctx())).toEqual({ requeueAfter: 2000 });
    expect(w.routesInCaddy()).toContainEqual(
      expect.objectContaining({
        '@id': 'orun-route-web',
        handle: [
          {
            handler: 'reverse_proxy',
            upstreams: [{ dial: '127.0.0.1:32768' }],
            transport: UPSTREAM_TRANSPORT,
          },
        ],
      }),
    );
    expect(w.cond('web')).toMatchObject({ status: 'False', reason: 'CertificatePending' });
    expect(w.cond('web')?.message).toMatch(
      /^waiting for a certificate for web.example.com from https:\/\/acme-v02/,
    );
    expect(w.cond('web', 'Reconciling')?.status).toBe('True');
    expect(await w.metric('orun_ingress_certificate_ready')).toBe(
      'orun_ingress_certificate_ready{service="web"} 0',
    );

    w.certs.issue('web.example.com');
    expect(await w.r.reconcile(ctx())).toEqual({ requeueAfter: 600_000 });
    expect(w.status('web')).toMatchObject({
      url: 'https://web.example.com',
      domain: 'web.example.com',
      upstream: '127.0.0.1:32768',
      certificate: { issuer: 'Pebble Intermediate CA 1a2b3c', notAfter: '2030-01-01T00:00:00.000Z' },
    });
    expect(w.cond('web')).toMatchObject({
      status: 'True',
      reason: 'Routed',
      message: 'https://web.example.com → 127.0.0.1:32768',
    });
    expect(w.cond('web', 'Reconciling')).toBeUndefined();
    expect(w.reasons('web')).toEqual(['Routed', 'CertificateIssued']);
    expect(w.caddy.loads).toHaveLength(1); // unchanged config is not loaded again
    expect(await w.metric('orun_ingress_certificate_ready')).toBe(
      'orun_ingress_certificate_ready{service="web"} 1',
    );
    expect(await w.metric('orun_ingress_routes')).toBe('orun_ingress_routes 1');
    expect(await w.metric('orun_ingress_config_applies_total')).toBe(
      'orun_ingress_config_applies_total{result="success"} 1\norun_ingress_config_applies_total{result="error"} 0',
    );
  });

  it('polls a pending certificate fast for a minute, then every 15 s', async () => {
    const w = world([svc('web', { ssl: true }), dep('web')]);
    setReady(w.store, 'web', true);
    expect(await w.r.reconcile(ctx())).toEqual({ requeueAfter: 2000 });
    w.clock.step(61_000);
    expect(await w.r.reconcile(ctx())).toEqual({ requeueAfter: 15_000 });
  });

  it('non-ssl: Ready at once on http://, no certificate checked, no certificate series', async () => {
    const w = world([svc('docs'), dep('docs')], { httpPort: 8080, httpsPort: 8443 });
    setReady(w.store, 'docs', true);
    await w.r.reconcile(ctx());
    expect(w.status('docs')?.url).toBe('http://docs.example.com:8080');
    expect(w.cond('docs')).toMatchObject({ status: 'True', reason: 'Routed' });
    expect(w.certs.checked).toEqual([]);
    expect(await w.metric('orun_ingress_certificate_ready')).toBe('');
  });

  it('a Deployment that is not ready gets a 503 route and DeploymentNotReady; readiness routes it', async () => {
    const w = world([svc('web'), dep('web')]);
    await w.r.reconcile(ctx());
    expect(w.routesInCaddy()).toContainEqual(
      expect.objectContaining({
        '@id': 'orun-route-web',
        handle: [expect.objectContaining({ status_code: 503 })],
      }),
    );
    expect(w.cond('web')).toMatchObject({
      status: 'False',
      reason: 'DeploymentNotReady',
      message: 'Deployment web is not ready; web.example.com answers 503 until it is',
    });
    expect(w.reasons('web')).toEqual([]);
    setReady(w.store, 'web', true);
    await w.r.reconcile(ctx());
    expect(w.cond('web')?.reason).toBe('Routed');
    expect(w.reasons('web')).toEqual(['Routed']);
  });

  it.each([
    {
      name: 'missing Deployment',
      objects: [svc('web', { deployment: 'nope' })],
      reason: 'DeploymentNotFound',
    },
    { name: 'no target port', objects: [svc('web', { port: 9999 }), dep('web')], reason: 'NoTargetPort' },
  ])(
    '$name: Stalled, no route, one Failed event however often it reconciles',
    async ({ objects, reason }) => {
      const w = world(objects);
      await w.r.reconcile(ctx());
      await w.r.reconcile(ctx());
      expect(w.cond('web')).toMatchObject({ status: 'False', reason });
      expect(w.cond('web', 'Stalled')).toMatchObject({ status: 'True', reason });
      expect(w.routesInCaddy().map((r) => (r as Record<string, unknown>)['@id'])).toEqual(['orun-not-found']);
      expect(w.events.list({ key: 'Service/web' }).map((e) => [e.reason, e.count])).toEqual([['Failed', 1]]);
    },
  );

  it('two Services on one domain: the second is Stalled with DomainConflict', async () => {
    const w = world([
      svc('a', { domain: 'x.example.com', deployment: 'd' }),
      svc('b', { domain: 'x.example.com', deployment: 'd' }),
      dep('d'),
    ]);
    setReady(w.store, 'd', true);
    await w.r.reconcile(ctx());
    expect(w.cond('a')?.reason).toBe('Routed');
    expect(w.cond('b')).toMatchObject({
      reason: 'DomainConflict',
      message: 'domain x.example.com is already served by Service/a',
    });
  });

  it('off main without an environment domain: Ready=False NoDomainForBranch, neither Reconciling nor Stalled', async () => {
    const w = world([svc('web'), dep('web')], { branch: () => 'staging' });
    await w.r.reconcile(ctx());
    expect(w.status('web')?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'NoDomainForBranch'],
    ]);
  });

  it('Caddy rejects the config: the old one keeps serving, new Services are Stalled with Caddy message, the error is thrown', async () => {
    const w = world([svc('web'), dep('web')]);
    setReady(w.store, 'web', true);
    await w.r.reconcile(ctx());
    const good = w.caddy.running;
    w.store.apply({
      kinds: ['Service', 'Deployment'],
      objects: [svc('web'), dep('web'), svc('api'), dep('api', [{ containerPort: 80, port: 8081 }])],
    });
    setReady(w.store, 'api', true);
    w.caddy.rejectNext(
      'loading new config: http app module: start: listening on :80: address already in use',
    );

    const err = await w.r.reconcile(ctx()).catch((e: unknown) => e);
    expect(isOrunError(err, 'caddy.config_rejected')).toBe(true);
    expect(w.caddy.running).toEqual(good);
    expect(w.cond('web')?.reason).toBe('Routed'); // its route is unchanged and still served
    expect(w.cond('api')).toMatchObject({
      reason: 'ConfigRejected',
      message: expect.stringMatching(/address already in use/) as string,
    });
    expect(w.cond('api', 'Stalled')?.status).toBe('True');
    expect(w.reasons('api')).toEqual(['Failed']);
    expect(await w.metric('orun_ingress_config_applies_total')).toContain('{result="error"} 1');

    await w.r.reconcile(ctx()); // the retry succeeds
    expect(w.cond('api')?.reason).toBe('Routed');
  });

  it('Caddy down: IngressUnavailable, thrown; after forgetApplied the config is loaded again', async () => {
    const w = world([svc('web'), dep('web')]);
    setReady(w.store, 'web', true);
    w.caddy.down = true;
    const err = await w.r.reconcile(ctx()).catch((e: unknown) => e);
    expect(isOrunError(err, 'caddy.unavailable')).toBe(true);
    expect(w.cond('web')).toMatchObject({ status: 'False', reason: 'IngressUnavailable' });
    expect(w.cond('web', 'Reconciling')?.status).toBe('True');
    w.caddy.down = false;
    await w.r.reconcile(ctx());
    expect(w.cond('web')?.reason).toBe('Routed');
    w.r.forgetApplied();
    await w.r.reconcile(ctx());
    expect(w.caddy.loads).toHaveLength(2);
  });

  it('a deleted Service loses its route and its certificate series', async () => {
    const w = world([svc('web', { ssl: true }), dep('web')]);
    setReady(w.store, 'web', true);
    await w.r.reconcile(ctx());
    w.store.apply({ kinds: ['Service', 'Deployment'], objects: [dep('web')] });
    await w.r.reconcile(ctx());
    expect(w.routesInCaddy().map((r) => (r as Record<string, unknown>)['@id'])).toEqual(['orun-not-found']);
    expect(await w.metric('orun_ingress_certificate_ready')).toBe('');
    expect(await w.metric('orun_ingress_routes')).toBe('orun_ingress_routes 0');
  });

  it('upstreams by name: a container replaced behind a route changes the name, not the config (no load)', async () => {
    const upstreams = new FakeUpstreamDNS({ clock: new FakeClock() });
    const w = world([svc('web'), dep('web')], { upstreams });
    const serve = (ip: string): void => {
      w.store.updateStatus<DeploymentStatus>('Deployment', 'web', () => ({ ready: true, ip }));
    };
    serve('172.18.0.5');
    await w.r.reconcile(ctx());
    expect(w.caddy.loads).toHaveLength(1);
    expect(JSON.stringify(w.caddy.running)).not.toContain('172.18.0.5');
    expect(w.routesInCaddy()).toContainEqual(
      expect.objectContaining({
        handle: [
          {
            handler: 'reverse_proxy',
            dynamic_upstreams: expect.objectContaining({
              name: 'web.upstream.orun.',
              port: '80',
              resolver: { addresses: [FakeUpstreamDNS.ADDRESS] },
            }) as unknown,
            transport: UPSTREAM_TRANSPORT,
          },
        ],
      }),
    );
    expect(upstreams.lookup('web.upstream.orun.', 4)).toEqual({ ip: '172.18.0.5' });
    expect(w.r.upstreamsOf('web')).toEqual(['172.18.0.5:80']);

    serve('172.18.0.6');
    await w.r.reconcile(ctx());
    expect(w.caddy.loads).toHaveLength(1); // switched without a reload
    expect(w.status('web')).toMatchObject({ upstream: '172.18.0.6:80' });
    // Until Caddy looks the name up again, it may still send new requests to the old container.
    expect(w.r.upstreamsOf('web')).toEqual(['172.18.0.5:80', '172.18.0.6:80']);
    expect(upstreams.lookup('web.upstream.orun.', 4)).toEqual({ ip: '172.18.0.6' });
    expect(w.r.upstreamsOf('web')).toEqual(['172.18.0.6:80']);
    expect(w.reasons('web').filter((r) => r === 'Routed')).toHaveLength(2);

    // Not ready: the route answers 503 (a config change, so a load).
    w.store.updateStatus<DeploymentStatus>('Deployment', 'web', () => ({ ready: false }));
    await w.r.reconcile(ctx());
    expect(w.caddy.loads).toHaveLength(2);
    expect(upstreams.lookup('web.upstream.orun.', 4)).toBe('nxdomain');
  });
});
