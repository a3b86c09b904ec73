/**
 * An in-memory Caddy admin for unit tests. It rejects what the real one rejects in ways orun
 * could trigger (unknown handler modules) with Caddy's wording, accepts what it accepts (caddy
 * 2.6.2 takes duplicate `@id`s silently: the builder must catch them), keeps the old config
 * on rejection, and has knobs for outages. The shared contract (admin.contract.ts) keeps it
 * honest against the real Caddy.
 */
import { OrunError } from '../../apis/errors.ts';
import { CaddyErrorCode, type CaddyAdmin } from './admin.ts';
import type { CaddyConfig } from './config.ts';
import { UpstreamNames, type UpstreamTable } from './upstreams.ts';

/** The http handler modules a stock caddy 2.6.2 has that orun uses (or tests with). */
const KNOWN_HANDLERS = new Set(['reverse_proxy', 'static_response', 'subroute', 'file_server', 'headers']);

export class FakeCaddyAdmin implements CaddyAdmin {
  #running: CaddyConfig | null = null;
  #rejectNext: string | undefined;
  /** Every config a `load` was called with, accepted or not. */
  readonly loads: CaddyConfig[] = [];
  /** While true, every call rejects `caddy.unavailable` (Caddy down or restarting). */
  down = false;

  /** The next `load` is rejected with this Caddy message (then the knob clears). */
  rejectNext(message: string): void {
    this.#rejectNext = message;
  }

  /** The running config (a copy). */
  get running(): CaddyConfig | null {
    return this.#running === null ? null : structuredClone(this.#running);
  }

  load(config: CaddyConfig, signal?: AbortSignal): Promise<void> {
    const unavailable = this.#unavailable('load config', signal);
    if (unavailable) return Promise.reject(unavailable);
    const copy = JSON.parse(JSON.stringify(config)) as CaddyConfig;
    this.loads.push(copy);
    const forced = this.#rejectNext;
    this.#rejectNext = undefined;
    const problem = forced ?? findProblem(copy);
    if (problem !== undefined)
      return Promise.reject(
        new OrunError(CaddyErrorCode.ConfigRejected, `caddy: load config: ${problem}`, {
          context: { status: 400, caddyError: problem },
        }),
      );
    this.#running = copy;
    return Promise.resolve();
  }

  config(signal?: AbortSignal): Promise<CaddyConfig | null> {
    const unavailable = this.#unavailable('read config', signal);
    if (unavailable) return Promise.reject(unavailable);
    return Promise.resolve(this.running);
  }

  #unavailable(step: string, signal: AbortSignal | undefined): OrunError | undefined {
    if (!this.down && !signal?.aborted) return undefined;
    return new OrunError(
      CaddyErrorCode.Unavailable,
      `caddy: ${step}: admin endpoint unreachable: ${this.down ? 'connect ENOENT (fake: down)' : 'aborted'}`,
    );
  }
}

/** The first thing Caddy would refuse, in its words; undefined when the config is acceptable. */
function findProblem(config: CaddyConfig): string | undefined {
  let problem: string | undefined;
  const walk = (v: unknown): void => {
    if (problem !== undefined || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    const handler = o.handler;
    if (typeof handler === 'string' && !KNOWN_HANDLERS.has(handler))
      problem = `loading new config: loading module '${handler}': unknown module: http.handlers.${handler}`;
    Object.values(o).forEach(walk);
  };
  walk(config);
  return problem;
}

/** The upstream table without a socket: a fixed resolver address, names answered by `lookup`. */
export class FakeUpstreamDNS extends UpstreamNames implements UpstreamTable {
  static readonly ADDRESS = 'udp/127.0.0.1:53053';
  address(): Promise<string> {
    return Promise.resolve(FakeUpstreamDNS.ADDRESS);
  }
}
