import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHttpProbe } from '../../apis/run.orcra.dev/v0alpha/probe.ts';
import { containerProbeAddress, probeHTTP } from './http.ts';

describe('containerProbeAddress', () => {
  it.each([
    ['localhost:80/health', '172.17.0.5', { host: '172.17.0.5', port: 80, path: '/health' }],
    ['127.0.0.1:8080/', '172.17.0.5', { host: '172.17.0.5', port: 8080, path: '/' }],
    ['[::1]:80/h', '172.17.0.5', { host: '172.17.0.5', port: 80, path: '/h' }],
    ['db.internal:5432/x', '172.17.0.5', { host: 'db.internal', port: 5432, path: '/x' }],
  ])('%s via %s', (target, ip, want) => {
    const { scheme: _scheme, ...parsed } = parseHttpProbe(target) ?? {
      scheme: 'http',
      host: '',
      port: 0,
      path: '',
    };
    expect(containerProbeAddress(parsed, ip)).toEqual(want);
  });
});

describe('probeHTTP', () => {
  let server: http.Server;
  let port: number;
  const hung: http.ServerResponse[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const status = Number(/^\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
      if (req.url === '/hang') {
        hung.push(res);
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200);
        res.end(Buffer.alloc(1024 * 1024, 'x'));
        return;
      }
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      res.end('ok\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const r of hung) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each([
    ['/status/200', true, 200],
    ['/status/204', true, 204],
    ['/status/302', true, 302],
    ['/status/399', true, 399],
    ['/status/400', false, 400],
    ['/status/404', false, 404],
    ['/status/500', false, 500],
    ['/status/503', false, 503],
    ['/big', true, 200],
  ])('GET %s → ok=%s (HTTP %i)', async (path, ok, statusCode) => {
    const r = await probeHTTP({ host: '127.0.0.1', port, path });
    expect(r).toMatchObject({ ok, statusCode });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.message).toContain(String(statusCode));
  });

  it('fails with a timeout message when the server does not answer in time', async () => {
    const r = await probeHTTP({ host: '127.0.0.1', port, path: '/hang', timeoutMs: 100 });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('timeout after 100ms') as string });
    expect(r.statusCode).toBeUndefined();
    expect(r.latencyMs).toBeGreaterThanOrEqual(90);
  });

  it('fails with the connection error when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await probeHTTP({ host: '127.0.0.1', port: freePort, path: '/health' });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('ECONNREFUSED') as string });
  });

  it('ends at once when the signal aborts', async () => {
    const ac = new AbortController();
    const p = probeHTTP({ host: '127.0.0.1', port, path: '/hang', timeoutMs: 10_000, signal: ac.signal });
    ac.abort();
    const r = await p;
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('aborted') as string });
    expect(r.latencyMs).toBeLessThan(1000);
  });

  it('defaults the path to /', async () => {
    expect(await probeHTTP({ host: '127.0.0.1', port })).toMatchObject({ ok: true, statusCode: 200 });
  });
});
