/** The agent's probe server (/healthz, /readyz, /metrics) as chaos scenarios read it. */
import http from 'node:http';
import { waitFor, type AgentProcess } from '../support/agent.ts';

/** The port the agent's probe server bound (`--metrics-address 127.0.0.1:0`), from its log. */
export function probePort(agent: AgentProcess): Promise<number> {
  return waitFor(
    'the probe server address in the log',
    () => {
      const line = agent.lines.find((l) => l.msg === 'Serving health probes and metrics');
      const port = (line?.['address'] as { port?: number } | undefined)?.port;
      return typeof port === 'number' ? port : undefined;
    },
    60_000,
    () => agent.dump(),
  );
}

/** GET a probe path; status 0 when nothing answered within `timeoutMs`. */
export function getProbe(
  port: number,
  path: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((res) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res({ status: 0, body: '', ms: performance.now() - t0 }));
  });
}

export function readyz(port: number): Promise<{ status: number; body: string }> {
  return getProbe(port, '/readyz?verbose');
}
