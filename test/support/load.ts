/**
 * A bounded HTTP load loop against 127.0.0.1 (the agent's Caddy) as a given Host: one request
 * every `1000 / rps` ms on a fresh connection (many clients, as a site sees them), until the
 * signal aborts; then it waits for the requests in flight. Used by the rollout e2e tests and
 * bench/rollout.ts. Pacing is a timer, not a wait on the system under test.
 */
import http from 'node:http';

export interface LoadSample {
  /** `performance.now()` when the request was sent. */
  at: number;
  /** HTTP status, or 0 for a connection error or timeout. */
  status: number;
  latencyMs: number;
  error?: string;
}

export interface LoadResult {
  samples: LoadSample[];
  /** Answers that were not 2xx (errors included). */
  failed: number;
  /** Failures by status (`0` for connection errors, with the first error text in `errors`). */
  byStatus: Record<string, number>;
  errors: string[];
  /** From the first to the last failed request of the longest run of consecutive failures (ms). */
  longestGapMs: number;
}

export interface LoadOptions {
  port: number;
  host: string;
  /** Requests per second. Default 20. */
  rps?: number;
  path?: string;
  /** Per-request budget. Default 5000 ms. */
  timeoutMs?: number;
  signal: AbortSignal;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const samples: LoadSample[] = [];
  const inFlight = new Set<Promise<void>>();
  const every = 1000 / (o.rps ?? 20);
  const one = (): void => {
    const p = request(o).then((s) => {
      samples.push(s);
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(one, every);
    const stop = (): void => {
      clearInterval(timer);
      resolve();
    };
    if (o.signal.aborted) stop();
    else o.signal.addEventListener('abort', stop, { once: true });
  });
  await Promise.all([...inFlight]);
  return summarize(samples);
}

export function summarize(samples: LoadSample[]): LoadResult {
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const byStatus: Record<string, number> = {};
  const errors: string[] = [];
  let longestGapMs = 0;
  let runStart: number | undefined;
  for (const s of sorted) {
    const ok = s.status >= 200 && s.status < 300;
    if (ok) {
      runStart = undefined;
      continue;
    }
    byStatus[String(s.status)] = (byStatus[String(s.status)] ?? 0) + 1;
    if (s.error !== undefined && errors.length < 5 && !errors.includes(s.error)) errors.push(s.error);
    runStart ??= s.at;
    longestGapMs = Math.max(longestGapMs, s.at - runStart);
  }
  const failed = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return { samples: sorted, failed, byStatus, errors, longestGapMs };
}

function request(o: LoadOptions): Promise<LoadSample> {
  const at = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, error?: string): void =>
      resolve({ at, status, latencyMs: performance.now() - at, ...(error === undefined ? {} : { error }) });
    const req = http.get(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path ?? '/',
        headers: { host: o.host },
        agent: false,
        timeout: o.timeoutMs ?? 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', (err) => done(0, err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done(0, err.message));
  });
}

/** The p-th percentile (0–100) of `xs` (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}
