/**
 * HTTP probes as Kubernetes does them: a GET, success on 2xx/3xx (redirects are not followed),
 * anything else, a timeout or a connection error is a failure with a message a person can act on.
 * `https` does not verify the certificate (the kubelet does not either: the probe asks whether the
 * app answers, not whether its PKI is right). Probes never throw; they return a result.
 *
 * Targets are parsed by the one grammar in apis (`parseHttpProbe`, `parseTcpProbe`), which the
 * manifest decoder also validates with: whatever `orun validate` accepts is probed here.
 */
import http from 'node:http';
import https from 'node:https';

export interface HTTPProbeOptions {
  /** Default `http`. */
  scheme?: 'http' | 'https';
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
  const scheme = options.scheme ?? 'http';
  const url = `${scheme}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}${path}`;
  const get = scheme === 'https' ? https.get : http.get;

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
    const req = get(
      {
        host: options.host,
        port: options.port,
        path,
        agent: false,
        rejectUnauthorized: false,
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

/** Hosts that mean "the container itself" in a probe target. */
const loopbackHosts = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0']);

/**
 * Where to send a probe written from the container's own view: a loopback host becomes the
 * container's IP (`localhost:80/health` → `172.17.0.5:80/health`); any other host is kept.
 */
export function containerProbeAddress<T extends { host: string }>(target: T, containerIP: string): T {
  return loopbackHosts.has(target.host.toLowerCase()) ? { ...target, host: containerIP } : target;
}
