/**
 * HTTP probes as Kubernetes does them: a GET, success on 2xx/3xx (redirects are not followed),
 * anything else, a timeout or a connection error is a failure with a message a person can act on.
 * Probes never throw; they return a result.
 */
import http from 'node:http';
import { OrunError } from '../../apis/errors.ts';

export interface HTTPProbeOptions {
  /** IP or host name (the controller passes the container's bridge IP). */
  host: string;
  port: number;
  /** Default `/`. */
  path?: string;
  /** Whole-request budget. Default 1000 (Kubernetes' `timeoutSeconds: 1`). */
  timeoutMs?: number;
  /** Aborts the probe; the result is then a failure with message `probe aborted`. */
  signal?: AbortSignal;
}

export interface ProbeResult {
  ok: boolean;
  /** The HTTP status, when a response arrived. */
  statusCode?: number;
  latencyMs: number;
  /** e.g. `HTTP 200`, `HTTP probe failed with statuscode: 503`, `connect ECONNREFUSED 172.17.0.2:80`. */
  message: string;
}

/** Body bytes read at most (the body is drained but never kept). */
const maxBody = 10 * 1024;

export function probeHTTP(options: HTTPProbeOptions): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const path = options.path ?? '/';
  const started = performance.now();
  const latency = (): number => Math.round((performance.now() - started) * 10) / 10;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}${path}`;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<ProbeResult, 'latencyMs'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve({ ...r, latencyMs: latency() });
    };
    const onAbort = (): void => finish({ ok: false, message: `probe aborted: GET ${url}` });
    const timer = setTimeout(
      () => finish({ ok: false, message: `GET ${url}: timeout after ${timeoutMs}ms` }),
      timeoutMs,
    );
    const req = http.get(
      {
        host: options.host,
        port: options.port,
        path,
        agent: false,
        headers: { 'user-agent': 'orun-probe/0', accept: '*/*', connection: 'close' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > maxBody) res.destroy();
        });
        const ok = status >= 200 && status < 400;
        const done = (): void =>
          finish({
            ok,
            statusCode: status,
            message: ok ? `HTTP ${status}` : `HTTP probe failed with statuscode: ${status}`,
          });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    req.on('error', (err) => finish({ ok: false, message: `GET ${url}: ${err.message}` }));
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ProbeTarget {
  /** As written (`localhost` in manifests); the controller replaces it with the container's IP. */
  host: string;
  port: number;
  /** Always starts with `/`. Default `/`. */
  path: string;
}

/**
 * Parses a manifest probe target, the container's own view: `localhost:80/health`,
 * `http://localhost:8080/`, `:80/health` or `80/health` (host defaults to `localhost`).
 */
export function parseProbeTarget(target: string): ProbeTarget {
  const raw = target.trim().replace(/^http:\/\//i, '');
  const m = /^(?:(\[[^\]]+\]|[^:/]*):)?(\d+)(\/.*)?$/.exec(raw);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OrunError(
      'InvalidProbeTarget',
      `probe: parse target ${JSON.stringify(target)}: want [host]:port[/path] with port 1-65535, e.g. localhost:80/health`,
      { context: { target } },
    );
  }
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || 'localhost';
  return { host, port, path: m[3] ?? '/' };
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0']);

/**
 * Where to send a probe written from the container's own view: a loopback host becomes the
 * container's bridge IP (`localhost:80/health` → `172.17.0.5:80/health`); any other host is kept.
 */
export function containerProbeAddress(target: ProbeTarget, containerIP: string): ProbeTarget {
  return loopbackHosts.has(target.host.toLowerCase()) ? { ...target, host: containerIP } : target;
}
