/**
 * A bounded HTTP load at a fixed rate for bench/ingress.ts (its saturating load is wrk: see
 * wrk.ts). Loopback only; every request must answer 200.
 */
import http from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * An open-loop load at a fixed `rate` (requests per second) over at most `connections` keep-alive
 * connections, for `durationMs`. Each request's latency counts from when it was due, not when it
 * was sent, so a stall delays the requests behind it in the figures too (no coordinated omission).
 * Far below saturation it shows what a hop adds to a request rather than how requests queue.
 */
export async function paced(o: {
  /** Default 127.0.0.1. */
  address?: string;
  port: number;
  host?: string;
  path?: string;
  connections: number;
  rate: number;
  durationMs: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.floor((o.rate * o.durationMs) / 1000);
  const t0 = performance.now();
  const dueAt = (i: number) => t0 + (i * 1000) / o.rate;
  const inflight = new Set<Promise<void>>();
  const one = (due: number): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(
        {
          host: o.address ?? '127.0.0.1',
          port: o.port,
          path: o.path ?? '/',
          agent,
          headers: o.host === undefined ? {} : { host: o.host },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - due);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  let sent = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      while (sent < total && dueAt(sent) <= performance.now()) {
        const p = one(dueAt(sent));
        sent++;
        inflight.add(p);
        void p.then(() => inflight.delete(p));
      }
      if (sent >= total) done();
      else setTimeout(tick, Math.max(0, dueAt(sent) - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  agent.destroy();
  return summary(latencies, errors, (performance.now() - t0) / 1000);
}

function summary(latencies: number[], errors: number, seconds: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / seconds,
    p50Ms: at(50),
    p99Ms: at(99),
  };
}
