import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrunError } from '../../apis/errors.ts';
import type { Registry } from '../metrics/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { runChecks, type Checker } from './healthz.ts';
import type { SyncingRunnable } from './runnable.ts';
import { isPort } from '../../apis/ports.ts';

export interface ProbeServerOptions {
  /** `host:port` or `:port` (all interfaces); port 0 picks a free port. */
  address: string;
  healthChecks: ReadonlyMap<string, Checker>;
  readyChecks: ReadonlyMap<string, Checker>;
  /** Served on /metrics when given. */
  registry?: Registry;
  /** Default: silent. */
  logger?: Logger;
}

/** Parses `host:port`, `:port` or `[v6]:port`. Throws `manager.bad_address`. */
export function parseAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  // Port 0 is allowed here: listen on a port the system picks.
  if (!m || (port !== 0 && !isPort(port))) {
    throw new OrunError(
      'manager.bad_address',
      `probe server: address ${JSON.stringify(address)}: expected host:port`,
    );
  }
  return { host: m[1] ?? (m[2] || undefined), port };
}

/** The /healthz, /readyz and /metrics HTTP server, as a runnable of the `servers` group. */
export class ProbeServer implements SyncingRunnable {
  readonly name = 'probe-server';
  readonly synced: Promise<void>;
  readonly #opts: ProbeServerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  #resolveSynced!: () => void;

  constructor(opts: ProbeServerOptions) {
    this.#opts = opts;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'probe-server' });
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
  }

  /** The bound address, once listening. */
  address(): AddressInfo | undefined {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { host, port } = parseAddress(this.#opts.address);
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error({ err, url: req.url }, 'Probe request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new OrunError('manager.listen', `probe server: listen on ${this.#opts.address}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.#log.info({ address: this.address() }, 'Serving health probes and metrics');
    this.#resolveSynced();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://probe');
    const [, endpoint, sub] = /^\/(healthz|readyz|metrics)(?:\/([^/]+))?\/?$/.exec(url.pathname) ?? [];
    if (endpoint === 'metrics' && this.#opts.registry && !sub) {
      const body = await this.#opts.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.#opts.registry.contentType }).end(body);
      return;
    }
    if (endpoint === 'healthz' || endpoint === 'readyz') {
      const checks = endpoint === 'healthz' ? this.#opts.healthChecks : this.#opts.readyChecks;
      const r = await runChecks(endpoint, checks, {
        verbose: url.searchParams.has('verbose'),
        exclude: url.searchParams.getAll('exclude'),
        subpath: sub,
      });
      res
        .writeHead(r.status, {
          'Content-Type': 'text/plain; charset=utf-8',
          'X-Content-Type-Options': 'nosniff',
        })
        .end(r.body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  }
}
