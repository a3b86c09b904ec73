/**
 * TCP probes as Kubernetes does them: the probe passes when a connection opens within the timeout
 * (nothing is sent). Never throws; returns a result like `probeHTTP`.
 */
import net from 'node:net';
import type { ProbeResult } from './http.ts';

export interface TCPProbeOptions {
  host: string;
  port: number;
  /** Default 1000. */
  timeoutMs?: number;
  /** Aborts the probe; the result is then a failure with message `probe aborted`. */
  signal?: AbortSignal;
}

export function probeTCP(options: TCPProbeOptions): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const started = performance.now();
  const latency = (): number => Math.round((performance.now() - started) * 10) / 10;
  const addr = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ok, message, latencyMs: latency() });
    };
    const onAbort = (): void => finish(false, `probe aborted: connect ${addr}`);
    const timer = setTimeout(() => finish(false, `connect ${addr}: timeout after ${timeoutMs}ms`), timeoutMs);
    const socket = net.connect({ host: options.host, port: options.port });
    socket.once('connect', () => finish(true, `connected to ${addr}`));
    socket.once('error', (err) => finish(false, `connect ${addr}: ${err.message}`));
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
