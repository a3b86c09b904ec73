/**
 * Upstream switches under load through the real supervised Caddy, driven by the real Service
 * reconciler: N times, the Deployment's serving IP moves between two loopback HTTP servers on the
 * same port (127.0.0.1 and 127.0.0.2, as two containers on the node network), while `concurrency`
 * clients send requests back to back, each on a fresh connection. After each switch it waits, as a
 * RollingUpdate does, until `upstreamsOf` names only the new upstream. Counts every answer and
 * every connection reset. Used by test/ingress/switch.test.ts and bench/ingress-switch.ts.
 *
 * `byName: true` is what orun runs (Caddy resolves the route's upstream through UpstreamDNS, the
 * config never changes); `false` is the previous design, a config `/load` per switch.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentStatus } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import { ctx, dep, svc } from '../../controllers/service/harness.ts';
import { IngressReconciler } from '../../controllers/service/reconciler.ts';
import { newCaddySupervisor, UpstreamDNS } from '../../runtime/caddy/index.ts';
import { realClock } from '../../runtime/clock/index.ts';
import { Store } from '../../runtime/store/index.ts';
import { freePort } from './net.ts';

export interface SwitchOptions {
  switches: number;
  /** Upstreams by name (orun's design) or a config /load per switch (the old one). */
  byName: boolean;
  /** Clients sending back to back, each request on a fresh connection. Default 8. */
  concurrency?: number;
}

export interface SwitchResult {
  switches: number;
  requests: number;
  /** Answers with a 2xx. */
  ok: number;
  /** Answers that were not 2xx. */
  non2xx: number;
  /** Connections reset before an answer (ECONNRESET). */
  resets: number;
  /** Other connection errors (refused, timeout). */
  otherErrors: number;
  /** Requests each upstream answered: both served, so traffic did move. */
  byUpstream: [number, number];
  seconds: number;
  /** The config loads Caddy got after the first one. */
  loads: number;
  errors: string[];
}

const HOST = 'web.example.com';

export async function runSwitches(o: SwitchOptions): Promise<SwitchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'orun-sw-'));
  const stop = new AbortController();
  const hits: [number, number] = [0, 0];
  const servers: http.Server[] = [];
  const upstreams = o.byName ? new UpstreamDNS() : undefined;
  let caddyRun: Promise<void> | undefined;
  try {
    // Two "containers": the same port on two loopback addresses.
    let port = 0;
    for (const i of [0, 1] as const) {
      const s = http.createServer((_req, res) => {
        hits[i]++;
        res.end(`upstream ${i}\n`);
      });
      await new Promise<void>((r) => s.listen(port, `127.0.0.${i + 1}`, r));
      port = (s.address() as AddressInfo).port;
      servers.push(s);
    }
    const ips = ['127.0.0.1', '127.0.0.2'] as const;

    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const caddy = newCaddySupervisor({ dataDir, stopTimeoutMs: 5000 });
    caddyRun = caddy.start(stop.signal);
    await caddy.synced;
    let loads = 0;
    const counting = { load: (...a: Parameters<typeof caddy.load>) => (loads++, caddy.load(...a)) };

    const store = new Store();
    store.apply({
      kinds: ['Service', 'Deployment'],
      objects: [svc('web'), dep('web', [{ containerPort: port, port }])],
    });
    const r = new IngressReconciler({
      store,
      caddy: counting,
      clock: realClock,
      branch: () => 'main',
      httpPort,
      httpsPort,
      recordEvent: () => undefined,
      ...(upstreams === undefined ? {} : { upstreams }),
    });
    const serve = async (ip: string): Promise<void> => {
      store.updateStatus<DeploymentStatus>('Deployment', 'web', () => ({ ready: true, ip }));
      await r.reconcile(ctx());
    };
    await serve(ips[0]);
    const firstLoads = loads;

    const result = { ok: 0, non2xx: 0, resets: 0, otherErrors: 0, errors: [] as string[] };
    let loading = true;
    const client = async (): Promise<void> => {
      while (loading) {
        const outcome = await get(httpPort);
        if (typeof outcome === 'number') {
          if (outcome >= 200 && outcome < 300) result.ok++;
          else result.non2xx++;
          continue;
        }
        if (outcome === 'ECONNRESET') result.resets++;
        else result.otherErrors++;
        if (result.errors.length < 5 && !result.errors.includes(outcome)) result.errors.push(outcome);
      }
    };
    const started = performance.now();
    const clients = Array.from({ length: o.concurrency ?? 8 }, client);
    for (let i = 1; i <= o.switches; i++) {
      const ip = ips[i % 2]!;
      await serve(ip);
      // As a RollingUpdate does before it drains the old container.
      while (r.upstreamsOf('web').some((u) => !u.startsWith(`${ip}:`))) await pause(20);
    }
    loading = false;
    await Promise.all(clients);
    const seconds = (performance.now() - started) / 1000;
    const requests = result.ok + result.non2xx + result.resets + result.otherErrors;
    return {
      switches: o.switches,
      requests,
      byUpstream: hits,
      seconds,
      loads: loads - firstLoads,
      ...result,
    };
  } finally {
    stop.abort();
    await caddyRun;
    await upstreams?.close();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** One GET on a fresh connection: the status, or the connection error's code. */
function get(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Pacing of the "has Caddy switched?" check, as the Deployment controller's recheck. */
function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
