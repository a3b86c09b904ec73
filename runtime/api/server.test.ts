import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { ApiClient } from './client.ts';
import { FakeApiBackend } from './fake-backend.ts';
import { resolveResource, type ResourceType } from './resources.ts';
import { createApiServer } from './server.ts';
import { listenUnixSocket, type UnixSocketListener } from './socket.ts';
import { SOPS_SECRET, sampleDeployment, sampleEvents, sampleNode, sampleService } from './testdata.ts';
import type { WatchEvent } from './types.ts';

const now = new Date('2025-01-01T12:00:00Z');
const deployments = resolveResource('deploy') as ResourceType;
const services = resolveResource('svc') as ResourceType;

let dir: string;
let socketPath: string;
let listener: UnixSocketListener;
let backend: FakeApiBackend;
let client: ApiClient;
/** Every response body read in a test, to check no secret ever leaves. */
const bodies: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orun-api-'));
  socketPath = join(dir, 'orun.sock');
  backend = new FakeApiBackend();
  backend.set(sampleDeployment(now));
  backend.set(sampleDeployment(now, 'api', {}));
  backend.set({
    ...sampleDeployment(now, 'worker'),
    metadata: { name: 'worker', labels: { app: 'worker', tier: 'back' } },
  });
  backend.set(sampleService(now));
  backend.set(sampleNode(now));
  for (const e of sampleEvents(now)) backend.record(e);
  backend.log('web', 'line 1');
  backend.log('web', 'line 2');
  backend.log('web', 'line 3');
  listener = await listenUnixSocket(
    socketPath,
    createApiServer(backend, { redact: { isSecretEnv: (_o, key) => key === 'PLAIN_SECRET' } }),
  );
  client = new ApiClient({ socketPath });
});

afterEach(async () => {
  await listener.close();
  await rm(dir, { recursive: true, force: true });
  for (const body of bodies.splice(0)) {
    expect(body).not.toContain('TOPSECRETCIPHERTEXT');
    expect(body).not.toContain('hunter2');
  }
});

function raw(method: string, path: string): Promise<{ code: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        bodies.push(body);
        resolve({ code: res.statusCode ?? 0, body, type: String(res.headers['content-type']) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The first `n` items; `afterFirst` runs once the first arrived (the stream is then live). */
async function take<T>(it: AsyncIterable<T>, n: number, afterFirst?: () => void): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length === 1) afterFirst?.();
    if (out.length === n) break;
  }
  return out;
}

describe('local API routes', () => {
  it('GET /version', async () => {
    expect(await client.version()).toMatchObject({
      version: '0.0.0-test',
      apiVersion: 'run.orcra.dev/v0alpha',
    });
  });

  it('lists a kind as a Kubernetes-style list', async () => {
    const res = await raw('GET', '/apis/run.orcra.dev/v0alpha/deployments');
    expect(res.code).toBe(200);
    const list = JSON.parse(res.body) as {
      kind: string;
      apiVersion: string;
      items: { metadata: { name: string } }[];
    };
    expect(list.kind).toBe('DeploymentList');
    expect(list.items.map((o) => o.metadata.name)).toEqual(['web', 'api', 'worker']);
  });

  it.each([
    ['tier=front', ['web', 'api']],
    ['app in (web,worker)', ['web', 'worker']],
    ['tier!=front', ['worker']],
    ['nope', []],
  ])('filters by labelSelector %j', async (labelSelector, names) => {
    const list = await client.list(deployments, { labelSelector });
    expect(list.items.map((o) => o.metadata.name)).toEqual(names);
  });

  it('rejects a bad selector with 400 and a Status body', async () => {
    const res = await raw(
      'GET',
      '/apis/run.orcra.dev/v0alpha/deployments?labelSelector=' + encodeURIComponent('a b=c'),
    );
    expect(res.code).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'BadRequest',
      code: 400,
    });
  });

  it('gets one object with its status', async () => {
    const web = await client.get(deployments, 'web');
    expect(web.status).toMatchObject({ ready: true, restarts: 3 });
  });

  it('answers a missing object with 404 and a kube-style Status', async () => {
    const res = await raw('GET', '/apis/run.orcra.dev/v0alpha/deployments/nope');
    expect(res.code).toBe(404);
    expect(res.type).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'deployments' },
      code: 404,
    });
    const err = await client.get(deployments, 'nope').catch((e: unknown) => e);
    expect(isOrunError(err, 'ApiNotFound')).toBe(true);
  });

  it.each([
    ['GET', '/apis/run.orcra.dev/v0alpha/widgets', 404],
    ['GET', '/nope', 404],
    ['POST', '/apis/run.orcra.dev/v0alpha/deployments', 405],
    ['GET', '/apis/run.orcra.dev/v0alpha/deployments/web/reconcile', 405],
    ['GET', '/apis/run.orcra.dev/v0alpha/services/web/log', 404],
    ['GET', '/apis/run.orcra.dev/v0alpha/deployments/web/log?tailLines=-1', 400],
    // Issue 9 bug 10: a malformed percent-escape was a 500.
    ['GET', '/apis/run.orcra.dev/v0alpha/deployments/%E0%A4%A', 400],
    ['GET', '/apis/run.orcra.dev/v0alpha/deployments/%zz', 400],
  ])('%s %s → %i', async (method, path, code) => {
    const res = await raw(method, path);
    expect(res.code).toBe(code);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', code });
  });

  it('watch starts with the current state, then streams live changes', async () => {
    const ac = new AbortController();
    const events: WatchEvent[] = [];
    const it = client.watch(deployments, { labelSelector: 'tier=front', signal: ac.signal });
    for await (const e of it) {
      events.push(e);
      if (events.length === 2) {
        backend.set({ ...sampleDeployment(now, 'web'), status: { ready: false } });
        backend.set({ ...sampleDeployment(now, 'worker') }); // label change moves it into the selection
        backend.set({ ...sampleDeployment(now, 'api'), metadata: { name: 'api', labels: { tier: 'back' } } }); // and out
        backend.delete('Deployment', 'web');
      }
      if (events.length === 6) break;
    }
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED web',
      'ADDED api',
      'MODIFIED web',
      'ADDED worker',
      'DELETED api',
      'DELETED web',
    ]);
    ac.abort();
  });

  it('watches one object by name', async () => {
    const events = await take(client.watch(services, { name: 'web' }), 2, () =>
      backend.set({ ...sampleService(now), status: { url: 'https://other.example.com' } }),
    );
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
  });

  it('ends watch streams on the server when the client goes away', async () => {
    const ac = new AbortController();
    await take(client.watch(deployments, { signal: ac.signal }), 1);
    expect(backend.watching).toBe(true);
    ac.abort();
    await vi.waitFor(() => expect(backend.watching).toBe(false));
  });

  it('lists events per object and all events', async () => {
    expect((await client.events({ resource: deployments, name: 'web' })).map((e) => e.reason)).toEqual([
      'Pulled',
      'BackOff',
    ]);
    expect(await client.events({ resource: services, name: 'web' })).toEqual([]);
    expect(await client.events()).toHaveLength(2);
  });

  it('watches events: current first, then repeats as MODIFIED', async () => {
    const [, backOff] = sampleEvents(now);
    const events = await take(client.watchEvents(), 3, () => backend.record({ ...backOff!, count: 4 }));
    expect(events.map((e) => `${e.type} ${e.object.reason} ${e.object.count}`)).toEqual([
      'ADDED Pulled 1',
      'ADDED BackOff 3',
      'MODIFIED BackOff 4',
    ]);
  });

  it('reconcile now: 202 for an object, 404 for a missing one, and source', async () => {
    expect(await client.reconcile(deployments, 'web')).toMatchObject({ status: 'Success', code: 202 });
    expect(
      isOrunError(await client.reconcile(deployments, 'nope').catch((e: unknown) => e), 'ApiNotFound'),
    ).toBe(true);
    await client.syncSource();
    expect(backend.reconciled).toEqual(['Deployment/web', 'source']);
  });

  it.each([
    [{}, ['line 1', 'line 2', 'line 3']],
    [{ tailLines: 2 }, ['line 2', 'line 3']],
    [{ tailLines: 0 }, []],
  ])('logs %j', async (options, lines) => {
    const out: string[] = [];
    for await (const l of client.logs(deployments, 'web', options)) out.push(l);
    expect(out).toEqual(lines);
  });

  it("a ServiceGraph's logs: the service goes as `container`; an unknown one is a 400", async () => {
    const graphs = resolveResource('sg') as ResourceType;
    backend.set({
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'ServiceGraph',
      metadata: { name: 'g' },
      spec: {},
    });
    backend.log('g/db', 'db ready');
    const out: string[] = [];
    for await (const l of client.logs(graphs, 'g', { container: 'db', tailLines: 5 })) out.push(l);
    expect(out).toEqual(['db ready']);
    expect(backend.logRequests.at(-1)).toMatchObject({
      kind: 'ServiceGraph',
      name: 'g',
      options: { container: 'db', tailLines: 5 },
    });
    const err: unknown = await (async () => {
      for await (const _ of client.logs(graphs, 'g', { container: 'web' })) void _;
    })().catch((e: unknown) => e);
    expect(isOrunError(err, 'ApiBadRequest')).toBe(true);
    expect((err as Error).message).toContain('servicegraph "g" has no service "web"');
  });

  it('follows logs', async () => {
    const lines = await take(client.logs(deployments, 'web', { follow: true, tailLines: 1 }), 2, () =>
      backend.log('web', 'line 4'),
    );
    expect(lines).toEqual(['line 3', 'line 4']);
  });

  it('never sends a secret, in any response', async () => {
    backend.set(
      sampleDeployment(now, 'db', {
        spec: { image: 'pg', env: { PLAIN_SECRET: 'hunter2', A: SOPS_SECRET } },
      }),
    );
    const paths = [
      '/apis/run.orcra.dev/v0alpha/deployments',
      '/apis/run.orcra.dev/v0alpha/deployments/web',
      '/apis/run.orcra.dev/v0alpha/deployments/db',
      '/apis/run.orcra.dev/v0alpha/deployments?labelSelector=app%3Ddb',
    ];
    for (const path of paths) {
      const res = await raw('GET', path);
      expect(res.code).toBe(200);
      expect(res.body).toContain('{"secret":true}');
    }
    const watched = await take(client.watch(deployments), 4);
    const text = JSON.stringify(watched);
    bodies.push(text);
    expect(text).toContain('"DB_PASSWORD":{"secret":true}');
    expect(text).toContain('"PLAIN_SECRET":{"secret":true}');
    expect(text).toContain('"MODE":"production"');
  });
});

describe('ApiClient when the agent is not there', () => {
  it('names the socket and how to point elsewhere', async () => {
    const c = new ApiClient({ socketPath: join(dir, 'missing.sock') });
    const err = await c.version().catch((e: unknown) => e);
    expect(isOrunError(err, 'ApiUnavailable')).toBe(true);
    expect((err as Error).message).toContain(join(dir, 'missing.sock'));
    expect((err as Error).message).toContain('--socket');
    expect((err as Error).message).toContain('ORUN_SOCKET');
  });
});
