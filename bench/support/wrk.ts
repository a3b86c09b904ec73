/**
 * wrk (Debian's `wrk`, C, epoll) as the saturating load generator of bench/ingress.ts: `connections`
 * keep-alive HTTP/1.1 connections on one thread send GET back to back for `seconds`. Much cheaper
 * per request than a Node client, so on a 2-core machine the servers, not the client, set the pace.
 * Optionally pinned to CPUs with taskset. Bounded: loopback only, fixed duration.
 */
import { execFile, execFileSync } from 'node:child_process';

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
}

/** Throws a clear error when wrk is not installed. */
export function requireWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is an error.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('bench: needs wrk (apt-get install wrk; hack/install-deps.sh installs it)', {
        cause: err,
      });
  }
}

export async function wrk(o: {
  url: string;
  host?: string;
  connections: number;
  seconds: number;
  /** `taskset -c <cpus>` for wrk, e.g. "1". Default: not pinned. */
  cpus?: string;
}): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency'];
  if (o.host !== undefined) args.push('-H', `Host: ${o.host}`);
  args.push(o.url);
  const [cmd, argv] = o.cpus === undefined ? ['wrk', args] : ['taskset', ['-c', o.cpus, 'wrk', ...args]];
  const out = await new Promise<string>((resolve, reject) =>
    execFile(cmd, argv, { timeout: (o.seconds + 30) * 1000 }, (err, stdout) => {
      if (err) reject(new Error(`bench: wrk failed: ${err.message}`, { cause: err }));
      else resolve(stdout);
    }),
  );
  return parseWrk(out);
}

/** Parses wrk's text report (with --latency). */
export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const ms = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([0-9.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors =
    num(/Non-2xx or 3xx responses: (\d+)/) +
    (socketErrors ? socketErrors.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return {
    requests: num(/^\s*(\d+) requests in/m),
    rps: num(/Requests\/sec:\s+([0-9.]+)/),
    p50Ms: ms('50'),
    p99Ms: ms('99'),
    errors,
  };
}
