/**
 * Notifier: delivers notices to HTTP endpoints (Flux's Alert + Provider, two provider types):
 *  - `generic`: POST application/json `{node, kind, name, event, severity, reason, message,
 *    revision, generation, timestamp}`;
 *  - `slack`: POST `{text}` (Slack incoming webhooks, Mattermost, Rocket.Chat, Discord's /slack).
 *
 * Per endpoint: one delivery at a time, in order; a token bucket (default 10 per minute, burst
 * 10) drops the excess and counts it; the same notice (object, generation, event, reason, message) within
 * `dedupMs` is sent once; a failed delivery (network error, 5xx, 429) is retried with back-off
 * (1 s doubling, 5 attempts), a 4xx is not. Secret-looking values (`ENC[...]`) in messages are
 * masked; the endpoint URL (it often holds a token) is logged by host only.
 */
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../../apis/errors.ts';
import { realClock, type Clock } from '../clock/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import type { Notice } from './classify.ts';

export const ENDPOINT_TYPES = ['generic', 'slack'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export interface Endpoint {
  type: EndpointType;
  url: string;
}

export interface NotifierOptions {
  endpoints: readonly Endpoint[];
  nodeName: string;
  /** The applied revision, put in each message. Default: none. */
  revision?: () => string | undefined;
  /** Tokens per minute per endpoint (and the burst). Default 10. */
  perMinute?: number;
  /** Delivery attempts. Default 5. */
  attempts?: number;
  /** First retry delay, doubling. Default 1000 ms. */
  retryBaseMs?: number;
  /** Same notice again within this window is not sent. Default 5 min. */
  dedupMs?: number;
  /** One request's timeout. Default 10 s. */
  timeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  registry?: Registry;
  /** Default: global fetch. */
  fetch?: typeof fetch;
}

/** What one endpoint was sent (tests, logs). */
export interface Delivery {
  endpoint: number;
  notice: Notice;
  ok: boolean;
  attempts: number;
  status?: number;
}

const SEVERITY: Readonly<Record<string, 'info' | 'error'>> = {
  RolloutSucceeded: 'info',
  RolloutFailed: 'error',
  Stalled: 'error',
  SyncFailed: 'error',
};

const ICON: Readonly<Record<string, string>> = {
  RolloutSucceeded: ':white_check_mark:',
  RolloutFailed: ':x:',
  Stalled: ':warning:',
  SyncFailed: ':warning:',
};

/** Masks anything that looks like a SOPS value. */
export function maskSecrets(text: string): string {
  return text.replace(/ENC\[[^\]]*\]/g, '<secret>');
}

class Lane {
  tokens: number;
  refilledAt: number;
  queue: Notice[] = [];
  busy = false;
  constructor(tokens: number, now: number) {
    this.tokens = tokens;
    this.refilledAt = now;
  }
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #fetch: typeof fetch;
  readonly #lanes: Lane[];
  readonly #recent = new Map<string, number>();
  readonly #listeners: ((d: Delivery) => void)[] = [];
  readonly #sent: Counter<'type' | 'result'> | undefined;
  #signal: AbortSignal | undefined;

  constructor(o: NotifierOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'notifier' });
    this.#fetch = o.fetch ?? fetch;
    this.#lanes = o.endpoints.map(() => new Lane(this.#perMinute, this.#clock.now()));
    if (o.registry !== undefined)
      this.#sent =
        (o.registry.getSingleMetric('orun_notifications_total') as Counter<'type' | 'result'> | undefined) ??
        new Counter({
          name: 'orun_notifications_total',
          help: 'Notifications by endpoint type and result: sent, failed (after retries), dropped (rate limit).',
          labelNames: ['type', 'result'],
          registers: [o.registry],
        });
  }

  get #perMinute(): number {
    return this.#o.perMinute ?? 10;
  }

  /** Called after each delivery ends (sent or given up). Returns an unsubscribe function. */
  onDelivery(fn: (d: Delivery) => void): () => void {
    this.#listeners.push(fn);
    return () => this.#listeners.splice(this.#listeners.indexOf(fn), 1);
  }

  /** Deliveries stop (pending retries end) when `signal` aborts. */
  bind(signal: AbortSignal): void {
    this.#signal = signal;
  }

  /** Queues `n` for every endpoint (subject to dedup and rate limits). */
  notify(n: Notice): void {
    const now = this.#clock.now();
    const key = JSON.stringify([n.kind, n.name, n.generation, n.event, n.reason, n.message]);
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < (this.#o.dedupMs ?? 300_000)) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 1000) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#lanes.forEach((lane, i) => {
      const perMs = this.#perMinute / 60_000;
      lane.tokens = Math.min(this.#perMinute, lane.tokens + (now - lane.refilledAt) * perMs);
      lane.refilledAt = now;
      if (lane.tokens < 1) {
        this.#sent?.inc({ type: this.#o.endpoints[i]!.type, result: 'dropped' });
        this.#log.warn(
          { endpoint: host(this.#o.endpoints[i]!.url), event: n.event, name: n.name },
          'notification dropped: rate limit',
        );
        return;
      }
      lane.tokens -= 1;
      lane.queue.push(n);
      if (!lane.busy) void this.#drain(i, lane);
    });
  }

  async #drain(i: number, lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      for (let n = lane.queue.shift(); n !== undefined; n = lane.queue.shift()) {
        const d = await this.#deliver(i, n);
        this.#sent?.inc({ type: this.#o.endpoints[i]!.type, result: d.ok ? 'sent' : 'failed' });
        for (const l of this.#listeners) l(d);
      }
    } finally {
      lane.busy = false;
    }
  }

  async #deliver(i: number, n: Notice): Promise<Delivery> {
    const ep = this.#o.endpoints[i]!;
    const body = JSON.stringify(this.#payload(ep.type, n));
    const attempts = this.#o.attempts ?? 5;
    let status: number | undefined;
    for (let a = 1; a <= attempts; a++) {
      let retry = true;
      try {
        const res = await this.#fetch(ep.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return { endpoint: i, notice: n, ok: true, attempts: a, status };
        retry = res.status >= 500 || res.status === 429;
        this.#log.warn({ endpoint: host(ep.url), status, attempt: a }, 'notification refused');
      } catch (err) {
        status = undefined;
        this.#log.warn(
          { endpoint: host(ep.url), err: maskSecrets(errorMessage(err)), attempt: a },
          'notification failed',
        );
      }
      if (!retry || a === attempts || this.#signal?.aborted === true) {
        return {
          endpoint: i,
          notice: n,
          ok: false,
          attempts: a,
          ...(status === undefined ? {} : { status }),
        };
      }
      await this.#clock.sleep((this.#o.retryBaseMs ?? 1000) * 2 ** (a - 1), this.#signal);
    }
    return { endpoint: i, notice: n, ok: false, attempts };
  }

  #payload(type: EndpointType, n: Notice): Record<string, unknown> {
    const revision = this.#o.revision?.();
    const message = maskSecrets(n.message);
    if (type === 'slack') {
      const what = n.event.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
      return {
        text: `${ICON[n.event] ?? ''} *${n.kind.toLowerCase()}/${n.name}* ${what} on ${this.#o.nodeName}${
          revision === undefined ? '' : ` (${revision})`
        }: ${n.reason}: ${message}`.trim(),
      };
    }
    return {
      node: this.#o.nodeName,
      kind: n.kind,
      name: n.name,
      event: n.event,
      severity: SEVERITY[n.event] ?? 'info',
      reason: n.reason,
      message,
      ...(revision === undefined ? {} : { revision }),
      ...(n.generation === undefined ? {} : { generation: n.generation }),
      timestamp: new Date(this.#clock.now()).toISOString(),
    };
  }
}

/** `scheme://host[:port]` of a URL (never its path or query, which may hold a token). */
export function host(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '<invalid url>';
  }
}

/** Parses `type=url` (e.g. `slack=https://hooks.slack.com/services/…`). */
export function parseEndpoint(text: string): Endpoint | undefined {
  const i = text.indexOf('=');
  const type = text.slice(0, i);
  const url = text.slice(i + 1);
  if (i < 0 || !(ENDPOINT_TYPES as readonly string[]).includes(type) || !/^https?:\/\/[^/]/.test(url))
    return undefined;
  return { type: type as EndpointType, url };
}
