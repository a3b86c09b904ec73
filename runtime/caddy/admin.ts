/**
 * Caddy's admin API over its unix socket. Caddy 2.6.2 rejects `Host: localhost` on a unix
 * admin socket (origin enforcement), so requests carry an empty Host header (DESIGN.md §4).
 * Its ETag arrives as an HTTP trailer; orun does not use it (it always loads the whole config).
 *
 * After every load Caddy replaces its admin server (same socket path), so the next request may
 * hit the closing one (EPIPE, ECONNRESET) or find no socket for a moment (ENOENT). Requests are
 * whole-config and idempotent, so a failed connection is retried a few times, briefly.
 */
import http from 'node:http';
import { OrunError } from '../../apis/errors.ts';
import type { CaddyConfig } from './config.ts';

/** Stable error codes of this adapter. */
export const CaddyErrorCode = {
  /** The config failed validation or provisioning (HTTP 4xx); Caddy's message is in the error. The running config is unchanged. */
  ConfigRejected: 'caddy.config_rejected',
  /** Nothing answers on the admin socket (not started, restarting, crashed) or it timed out. */
  Unavailable: 'caddy.unavailable',
  /** Any other admin API failure (HTTP 5xx, unreadable answer). */
  AdminError: 'caddy.admin_error',
  /** The builder refused its input (see config.ts). */
  InvalidConfig: 'caddy.invalid_config',
} as const;

/** Connection errors seen while Caddy swaps its admin server; worth a quick retry. */
const TRANSIENT = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ENOENT']);
const RETRIES = 4;
const RETRY_DELAY_MS = 25;

/** The admin calls orun makes; the real client, the supervisor and the fake all implement it. */
export interface CaddyAdmin {
  /**
   * Replaces the running config with `config` (POST /load). Transactional in Caddy: on any
   * rejection the old config keeps running and this rejects `caddy.config_rejected`.
   */
  load(config: CaddyConfig, signal?: AbortSignal): Promise<void>;
  /** The running config (GET /config/); null when Caddy runs none. */
  config(signal?: AbortSignal): Promise<CaddyConfig | null>;
}

export interface CaddyAdminClientOptions {
  /** Path of the admin unix socket (the `unix/` prefix of Caddy's listen address stripped). */
  socketPath: string;
  /** Per-request budget. Default 30 000 ms (a load that replaces servers waits for them to bind). */
  timeoutMs?: number;
}

/** The admin API over a unix socket. Stateless: safe to share. */
export class CaddyAdminClient implements CaddyAdmin {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(o: CaddyAdminClientOptions) {
    this.socketPath = o.socketPath;
    this.#timeoutMs = o.timeoutMs ?? 30_000;
  }

  async load(config: CaddyConfig, signal?: AbortSignal): Promise<void> {
    await this.#retrying(
      () => this.request('POST', '/load', 'load config', JSON.stringify(config), signal),
      signal,
    );
  }

  async config(signal?: AbortSignal): Promise<CaddyConfig | null> {
    const body = await this.#retrying(
      () => this.request('GET', '/config/', 'read config', undefined, signal),
      signal,
    );
    try {
      return JSON.parse(body) as CaddyConfig | null;
    } catch (err) {
      throw new OrunError(CaddyErrorCode.AdminError, `caddy: read config: unreadable answer`, { cause: err });
    }
  }

  /** Asks Caddy to exit gracefully (POST /stop). */
  async stop(signal?: AbortSignal): Promise<void> {
    await this.#retrying(() => this.request('POST', '/stop', 'stop', '', signal), signal);
  }

  /** Resolves when the admin endpoint answers, rejects `caddy.unavailable` otherwise (no retry). */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.request('GET', '/config/', 'ping', undefined, signal);
  }

  /** Retries a request whose connection failed (not one Caddy answered), at most RETRIES times. */
  async #retrying<T>(call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const errno = err instanceof OrunError ? err.context.errno : undefined;
        const transient = typeof errno === 'string' && TRANSIENT.has(errno);
        if (!transient || attempt >= RETRIES || signal?.aborted === true) throw err;
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS * (attempt + 1)));
      }
    }
  }

  /** One admin request; resolves the response body on 2xx. `step` names it in errors. */
  request(method: string, path: string, step: string, body?: string, signal?: AbortSignal): Promise<string> {
    const context = { socketPath: this.socketPath, method, path };
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new OrunError(CaddyErrorCode.Unavailable, `caddy: ${step}: aborted`, { context }));
        return;
      }
      const headers: Record<string, string | number> = { host: '' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          setHost: false,
          headers,
          timeout: this.#timeoutMs,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(unavailable(step, err, context)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(text);
            else reject(answerError(step, path === '/load', status, text, context));
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(
          new OrunError(CaddyErrorCode.Unavailable, `caddy: ${step}: timed out after ${this.#timeoutMs}ms`),
        ),
      );
      req.on('error', (err) => reject(unavailable(step, err, context)));
      req.end(body);
    });
  }
}

function unavailable(step: string, err: unknown, context: Record<string, unknown>): OrunError {
  if (err instanceof OrunError) return err;
  const code = (err as { code?: string }).code;
  const detail = (err as Error).message ?? String(err);
  return new OrunError(CaddyErrorCode.Unavailable, `caddy: ${step}: admin endpoint unreachable: ${detail}`, {
    cause: err,
    context: { ...context, ...(code === undefined ? {} : { errno: code }) },
  });
}

/** Caddy answers errors as `{"error": "..."}`; its message is kept verbatim. */
function answerError(
  step: string,
  isLoad: boolean,
  status: number,
  text: string,
  context: Record<string, unknown>,
): OrunError {
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the raw text
  }
  const rejected = isLoad && status >= 400 && status < 500;
  const code = rejected ? CaddyErrorCode.ConfigRejected : CaddyErrorCode.AdminError;
  return new OrunError(code, `caddy: ${step}: ${message || `HTTP ${status}`}`, {
    context: { ...context, status, caddyError: message },
  });
}
