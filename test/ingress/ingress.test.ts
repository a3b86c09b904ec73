/**
 * Ingress end to end on loopback: the real caddy (supervised), a real ACME CA (pebble with
 * challtestsrv as DNS), a real container (busybox httpd published on a free host port), the real
 * Store, Controller and EventRecorder. The Deployment's status is written by the test (what the
 * Deployment controller would write), so no other test's containers are swept.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import type { ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import { dep, setReady, svc } from '../../controllers/service/harness.ts';
import { newServiceController } from '../../controllers/service/index.ts';
import { describeCaddyAdminContract } from '../../runtime/caddy/admin.contract.ts';
import { newCaddySupervisor, type CaddyConfig, type CaddySupervisor } from '../../runtime/caddy/index.ts';
import { realClock } from '../../runtime/clock/index.ts';
import { DockerEngine } from '../../runtime/docker/dockerode.ts';
import { EventRecorder } from '../../runtime/events/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { freePort, requirePebble, startPebble, type Pebble } from '../support/pebble.ts';
import { requireCommand, requireTestImage, TEST_IMAGE } from '../support/services.ts';
import { httpGet, httpsGet } from '../support/http.ts';

const run = randomBytes(4).toString('hex');
const prefix = `orun-t-ingress-${run}`;
const WEB = 'web.orun.test';
const PLAIN = 'plain.orun.test';
const FAST_BACKOFF = { initialMs: 100, maxMs: 1000, resetAfterMs: 60_000 };

function requireCaddy(): void {
  requireCommand('caddy', 'caddy', ['version']);
}

interface Env {
  pebble: Pebble;
  caddy: CaddySupervisor;
  store: Store;
  recorder: EventRecorder;
  httpPort: number;
  httpsPort: number;
  hostPort: number;
  dataDir: string;
}

describe('ingress: caddy + pebble + a real container', () => {
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const engine = new DockerEngine();
  const containers: string[] = [];
  let env: Env | undefined;
  const e = (): Env => {
    if (env === undefined) throw new Error('setup failed (see the beforeAll error)');
    return env;
  };

  beforeAll(async () => {
    requireCaddy();
    requirePebble();
    requireTestImage();
    const [httpPort, httpsPort, hostPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const pebble = await startPebble({ httpPort, tlsPort: httpsPort });
    const dataDir = await mkdtemp(join(tmpdir(), 'orun-ing-'));
    const caddy = newCaddySupervisor({ dataDir, restartBackoff: FAST_BACKOFF, stopTimeoutMs: 5000 });
    running.push(caddy.start(stop.signal));
    await caddy.synced;

    const name = `${prefix}-web`;
    containers.push(name);
    const id = await engine.createContainer({
      name,
      image: TEST_IMAGE,
      labels: { 'orun.test/run': prefix },
      ports: [{ containerPort: 80, hostPort }],
    });
    await engine.startContainer(id);

    const store = new Store();
    store.apply({
      kinds: ['Service', 'Deployment'],
      objects: [
        svc('web', { domain: WEB, ssl: true, deployment: 'app' }),
        svc('plain', { domain: PLAIN, deployment: 'app' }),
        dep('app', [{ containerPort: 80, port: hostPort }]),
      ],
    });
    setReady(store, 'app', true, [{ containerPort: 80, port: hostPort }]);
    const recorder = new EventRecorder();
    const services = newServiceController({
      store,
      caddy,
      clock: realClock,
      events: recorder.for('service-controller'),
      registry: new Registry(),
      branch: () => 'main',
      httpPort,
      httpsPort,
      acme: {
        ca: pebble.directoryURL,
        email: 'ops@orun.test',
        trustedRootsPemFiles: [pebble.listenerCertFile],
      },
      certificatePollMs: 250,
    });
    running.push(services.start(stop.signal));
    env = { pebble, caddy, store, recorder, httpPort, httpsPort, hostPort, dataDir };
  });

  afterAll(async () => {
    stop.abort();
    await Promise.all(running);
    for (const n of containers) await engine.removeContainer(n, { force: true });
    await env?.pebble.stop();
    if (env !== undefined) await rm(env.dataDir, { recursive: true, force: true });
  });

  const status = (name: string) => e().store.get('Service', name)?.status as ServiceStatus | undefined;
  const ready = (name: string) => status(name)?.conditions?.find((c) => c.type === 'Ready');

  it('obtains a certificate from Pebble Intermediate CA and serves the app over HTTPS', async () => {
    try {
      await vi.waitFor(() => expect(ready('web')?.status).toBe('True'), { timeout: 60_000, interval: 100 });
    } catch (err) {
      throw new Error(
        `${String(err)}\nstatus: ${JSON.stringify(status('web'))}\n${await e().pebble.logs()}`,
        {
          cause: err,
        },
      );
    }
    expect(status('web')).toMatchObject({
      url: `https://${WEB}:${e().httpsPort}`,
      domain: WEB,
      certificate: { issuer: expect.stringMatching(/^Pebble Intermediate CA/) as string },
    });
    const res = await httpsGet(e().httpsPort, WEB, e().pebble.rootPem);
    expect(res.status).toBe(200);
    expect(res.body).toContain('orun test app');
    expect(res.cert?.issuer).toMatch(/^Pebble Intermediate CA/);
    expect(
      e()
        .recorder.list({ key: 'Service/web' })
        .map((r) => r.reason),
    ).toEqual(['Routed', 'CertificateIssued']);
    const stored = await readdir(join(e().dataDir, 'caddy', 'storage', 'certificates'), { recursive: true });
    expect(stored.some((f) => f.endsWith(`${WEB}.crt`))).toBe(true);
  });

  it('serves a non-ssl Service on plain HTTP and redirects the ssl host to HTTPS', async () => {
    await vi.waitFor(() => expect(ready('plain')?.reason).toBe('Routed'), { timeout: 10_000 });
    expect(status('plain')?.url).toBe(`http://${PLAIN}:${e().httpPort}`);
    const plain = await httpGet(e().httpPort, PLAIN);
    expect(plain.status).toBe(200);
    expect(plain.body).toContain('orun test app');
    const redirect = await httpGet(e().httpPort, WEB);
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toMatch(/^https:\/\/web\.orun\.test/);
    expect((await httpGet(e().httpPort, 'unknown.orun.test')).status).toBe(404);
  });

  it('restarts Caddy after a SIGKILL; the routes and the stored certificate come back', async () => {
    const before = await httpsGet(e().httpsPort, WEB, e().pebble.rootPem);
    const pid = e().caddy.pid();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    await vi.waitFor(
      () => {
        expect(e().caddy.pid()).not.toBe(pid);
        expect(e().caddy.isUp()).toBe(true);
      },
      { timeout: 15_000, interval: 50 },
    );
    const after = await vi.waitFor(() => httpsGet(e().httpsPort, WEB, e().pebble.rootPem), {
      timeout: 10_000,
    });
    expect(after.status).toBe(200);
    expect(after.cert?.serial).toBe(before.cert?.serial); // from storage, not a new order
    expect((await httpGet(e().httpPort, PLAIN)).status).toBe(200);
  });

  it('rejects an invalid config with Caddy message and keeps serving the old one', async () => {
    const good = e().caddy.lastGoodConfig();
    expect(good).toBeDefined();
    const bad = JSON.parse(
      JSON.stringify(good).replace('"reverse_proxy"', '"no_such_handler"'),
    ) as CaddyConfig;
    const err = await e()
      .caddy.load(bad)
      .catch((x: unknown) => x);
    expect(isOrunError(err, 'caddy.config_rejected')).toBe(true);
    expect((err as Error).message).toMatch(
      /^caddy: load config: .*unknown module: http\.handlers\.no_such_handler/,
    );
    expect(e().caddy.lastGoodConfig()).toEqual(good);
    expect((await httpsGet(e().httpsPort, WEB, e().pebble.rootPem)).status).toBe(200);
    expect((await httpGet(e().httpPort, PLAIN)).status).toBe(200);
  });

  it('takes a domain off Caddy when its Service is deleted', async () => {
    e().store.apply({
      kinds: ['Service', 'Deployment'],
      objects: [
        svc('web', { domain: WEB, ssl: true, deployment: 'app' }),
        dep('app', [{ containerPort: 80, port: e().hostPort }]),
      ],
    });
    await vi.waitFor(async () => expect((await httpGet(e().httpPort, PLAIN)).status).toBe(404), {
      timeout: 10_000,
    });
  });
});

// The admin contract against a second, independent Caddy (its own data dir and ports), so it
// does not disturb the one above.
describe('CaddyAdmin contract against caddy 2.6.2', () => {
  const stop = new AbortController();
  let started: { caddy: CaddySupervisor; running: Promise<void>; dataDir: string } | undefined;
  afterAll(async () => {
    stop.abort();
    await started?.running;
    if (started) await rm(started.dataDir, { recursive: true, force: true });
  });
  describeCaddyAdminContract('caddy 2.6.2 (supervised)', async () => {
    requireCaddy();
    if (started === undefined) {
      const dataDir = await mkdtemp(join(tmpdir(), 'orun-cc-'));
      const caddy = newCaddySupervisor({ dataDir, restartBackoff: FAST_BACKOFF, stopTimeoutMs: 5000 });
      started = { caddy, running: caddy.start(stop.signal), dataDir };
      await caddy.synced;
    }
    const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    return { admin: started.caddy, stamp: (c) => c, httpPort, httpsPort };
  });
});
