/**
 * WebhookReceiver: an HTTP listener for Git hosts' push webhooks (Flux's `Receiver`), one path
 * per host: `POST /hook/github`, `/hook/gitlab`, `/hook/gitea`, `/hook/forgejo`, `/hook/generic`.
 *
 * A request is answered only after it was checked, in this order:
 *   method POST → known provider → body ≤ maxBodyBytes (413) → the host's signature or token
 *   (401) → not a replay of an accepted delivery (409) → event: `ping`-like events are answered
 *   200 without polling, a push to another branch than the tracked one is ignored (200) →
 *   the poll is triggered, then 202 is sent.
 *
 * Polls go through a PollTrigger, so a flood of valid calls gives at most one poll in flight and
 * one queued. The timer-driven polling of the Git source is untouched: webhooks only shorten the
 * wait. The secret never appears in a response, a log line or a metric.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import { realClock, type Clock } from '../clock/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { parseAddress } from '../manager/server.ts';
import type { SyncingRunnable } from '../manager/runnable.ts';
import { ReplayGuard } from './replay.ts';
import { PollTrigger, type TriggerResult } from './trigger.ts';
import { isProvider, verify, type Provider } from './verify.ts';

export const WebhookErrorCode = {
  Listen: 'webhook.listen',
} as const;

export interface WebhookReceiverOptions {
  /** `host:port`, `:port` or `[v6]:port`; port 0 picks a free one. Required. */
  address: string;
  /** The shared secret (HMAC key or token) configured on the Git host. Required, non-empty. */
  secret: string;
  /** One Git poll; settles when it is over. Required. */
  poll: () => Promise<unknown>;
  /** The tracked branch: pushes naming another `ref` are ignored. Default: every push polls. */
  branch?: () => string;
  /** Bodies larger than this are refused with 413. Default 1 MiB (GitHub push payloads cap commits at 20). */
  maxBodyBytes?: number;
  /** How long accepted deliveries are remembered for replay checks. Default 24 h. */
  replayTtlMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
  /** Registry for `orun_webhook_*`. Default: none (no metrics). */
  registry?: Registry;
}

/** One handled request, for logs, tests and benchmarks. */
export interface WebhookOutcome {
  provider: string;
  code: number;
  /** Stable, CamelCase: Accepted, Ping, OtherBranch, BadSignature, Replay, TooLarge … */
  reason: string;
  /** Set when a poll was asked for. */
  poll?: TriggerResult;
}

/** Events that only test the hook: answered, never polled. */
const PING_EVENTS = new Set(['ping', 'System Hook']);

export class WebhookReceiver implements SyncingRunnable {
  readonly name = 'webhook-receiver';
  readonly synced: Promise<void>;
  readonly trigger: PollTrigger;
  readonly #o: WebhookReceiverOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #replay: ReplayGuard;
  readonly #requests: Counter<'provider' | 'code'> | undefined;
  readonly #polls: Counter<'result'> | undefined;
  readonly #listeners: ((o: WebhookOutcome) => void)[] = [];
  #server: Server | undefined;
  #resolveSynced!: () => void;

  constructor(o: WebhookReceiverOptions) {
    if (o.secret === '') throw new OrunError('webhook.no_secret', 'webhook: the secret is empty');
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'webhook-receiver' });
    this.#replay = new ReplayGuard({
      clock: this.#clock,
      ...(o.replayTtlMs === undefined ? {} : { ttlMs: o.replayTtlMs }),
    });
    this.trigger = new PollTrigger(o.poll, (err) =>
      this.#log.warn({ err: errorMessage(err) }, 'webhook-triggered poll failed'),
    );
    if (o.registry !== undefined) {
      const registers = [o.registry];
      this.#requests =
        (o.registry.getSingleMetric('orun_webhook_requests_total') as Counter<'provider' | 'code'>) ??
        new Counter({
          name: 'orun_webhook_requests_total',
          help: 'Webhook requests by provider and HTTP status code.',
          labelNames: ['provider', 'code'],
          registers,
        });
      this.#polls =
        (o.registry.getSingleMetric('orun_webhook_polls_total') as Counter<'result'>) ??
        new Counter({
          name: 'orun_webhook_polls_total',
          help: 'Polls asked for by webhooks: started, queued behind a running one, or coalesced into the queued one.',
          labelNames: ['result'],
          registers,
        });
    }
    this.synced = new Promise((r) => (this.#resolveSynced = r));
  }

  /** The bound address, once listening. */
  address(): AddressInfo | undefined {
    const a = this.#server?.address();
    return a !== null && typeof a === 'object' ? a : undefined;
  }

  /** Called after each request was answered (tests, benchmarks). Returns an unsubscribe function. */
  onOutcome(fn: (o: WebhookOutcome) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  async start(signal: AbortSignal): Promise<void> {
    const { host, port } = parseAddress(this.#o.address);
    const server = createServer((req, res) => this.#handle(req, res));
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new OrunError(WebhookErrorCode.Listen, `webhook: listen on ${this.#o.address}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.#log.info({ address: this.address() }, 'webhook receiver listening');
    this.#resolveSynced();
    await new Promise<void>((r) =>
      signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
    );
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await this.trigger.idle();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://orun').pathname.replace(/\/+$/, '');
    const m = /^\/hook\/([a-z]+)$/.exec(path);
    const provider = m?.[1] ?? '';
    const answer = (code: number, reason: string, message: string, poll?: TriggerResult): void => {
      this.#reply(
        res,
        { provider: isProvider(provider) ? provider : 'unknown', code, reason, ...(poll ? { poll } : {}) },
        message,
      );
    };
    if (!isProvider(provider)) {
      req.resume();
      return answer(404, 'NotFound', 'no such hook; use /hook/github, gitlab, gitea, forgejo or generic');
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return answer(405, 'MethodNotAllowed', 'only POST');
    }
    const limit = this.#o.maxBodyBytes ?? 1024 * 1024;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.setHeader('Connection', 'close');
      answer(413, 'TooLarge', `body larger than ${limit} bytes`);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > limit) {
        refused = true;
        res.setHeader('Connection', 'close');
        answer(413, 'TooLarge', `body larger than ${limit} bytes`);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (!refused) this.#checked(provider, req, Buffer.concat(chunks), answer);
    });
  }

  #checked(
    provider: Provider,
    req: IncomingMessage,
    body: Buffer,
    answer: (code: number, reason: string, message: string, poll?: TriggerResult) => void,
  ): void {
    const v = verify(provider, req.headers, body, this.#o.secret, this.#clock.now());
    if (!v.ok) return answer(v.reason === 'BadTimestamp' ? 400 : 401, v.reason, v.message);
    if (this.#replay.seen([v.deliveryId && `${provider}:${v.deliveryId}`, v.fingerprint]))
      return answer(409, 'Replay', 'this delivery was already accepted');
    if (PING_EVENTS.has(v.event)) return answer(200, 'Ping', 'pong');
    const ref = pushedRef(body);
    const branch = this.#o.branch?.();
    if (ref !== undefined && branch !== undefined && ref !== `refs/heads/${branch}`)
      return answer(200, 'OtherBranch', `ignored: push to ${ref}, this node tracks refs/heads/${branch}`);
    const poll = this.trigger.trigger();
    this.#polls?.inc({ result: poll });
    answer(202, 'Accepted', `poll ${poll}`, poll);
  }

  #reply(res: ServerResponse, outcome: WebhookOutcome, message: string): void {
    this.#requests?.inc({ provider: outcome.provider, code: String(outcome.code) });
    const level = outcome.code >= 400 ? 'warn' : 'info';
    this.#log[level](
      { provider: outcome.provider, code: outcome.code, reason: outcome.reason, poll: outcome.poll },
      'webhook request',
    );
    if (!res.headersSent) {
      res.writeHead(outcome.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ reason: outcome.reason, message }) + '\n');
    }
    for (const l of this.#listeners) l(outcome);
  }
}

/** The `ref` a push payload names (GitHub, GitLab, Gitea/Forgejo all send it), if any. */
function pushedRef(body: Buffer): string | undefined {
  if (body.length === 0 || body[0] !== 0x7b /* { */) return undefined;
  try {
    const doc = JSON.parse(body.toString('utf8')) as { ref?: unknown };
    return typeof doc.ref === 'string' ? doc.ref : undefined;
  } catch {
    return undefined; // not JSON (or form-encoded): poll anyway, the signature was good
  }
}
