/**
 * How each Git host signs a push webhook, as Flux's notification-controller Receiver checks it:
 *
 * | provider | proof | event header | delivery id |
 * |---|---|---|---|
 * | `github` | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>` | `X-GitHub-Event` | `X-GitHub-Delivery` |
 * | `gitlab` | `X-Gitlab-Token: <secret>` (a shared token; GitLab does not sign) | `X-Gitlab-Event` | `X-Gitlab-Event-UUID`, `Idempotency-Key` |
 * | `gitea`, `forgejo` | `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256>` | `X-Gitea-Event` / `X-Forgejo-Event` | `X-Gitea-Delivery` / `X-Forgejo-Delivery` |
 * | `generic` | `X-Signature: sha256=<hex HMAC>` (over `<X-Timestamp>.<body>` when that header is sent), or `Authorization: Bearer <secret>` | — (always a push) | `X-Delivery` |
 *
 * Every comparison is constant-time. Pure functions: the receiver does I/O, replay memory and
 * polling.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const PROVIDERS = ['github', 'gitlab', 'gitea', 'forgejo', 'generic'] as const;
export type Provider = (typeof PROVIDERS)[number];

export function isProvider(s: string): s is Provider {
  return (PROVIDERS as readonly string[]).includes(s);
}

/** Header names are lower-case, as node's IncomingMessage has them. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Why a request was refused (`reason` is stable, CamelCase). */
export interface Refusal {
  ok: false;
  reason: 'MissingSignature' | 'BadSignature' | 'BadTimestamp' | 'StaleTimestamp';
  message: string;
}

export interface Verified {
  ok: true;
  /** What the host says happened: `push`, `ping`, `Push Hook` … (`push` for generic). */
  event: string;
  /** The host's id of this delivery, when it sends one. */
  deliveryId: string | undefined;
  /** A digest of the proof (signature or token + body): a replayed request repeats it. */
  fingerprint: string;
}

export type Verdict = Verified | Refusal;

/** How far a generic `X-Timestamp` may be from now. */
export const MAX_TIMESTAMP_SKEW_MS = 5 * 60_000;

/** Checks one request's proof. `now` is only used for generic timestamps. */
export function verify(
  provider: Provider,
  headers: Headers,
  body: Buffer,
  secret: string,
  now: number,
): Verdict {
  switch (provider) {
    case 'github':
      return hmacHeader(headers, 'x-hub-signature-256', 'sha256=', body, secret, {
        event: header(headers, 'x-github-event') ?? 'push',
        deliveryId: header(headers, 'x-github-delivery'),
      });
    case 'gitea':
    case 'forgejo': {
      // Gitea and Forgejo send both their own header and GitHub's; prefer their own.
      const own = `x-${provider}-signature`;
      const name = header(headers, own) !== undefined ? own : 'x-hub-signature-256';
      return hmacHeader(headers, name, name === own ? '' : 'sha256=', body, secret, {
        event: header(headers, `x-${provider}-event`) ?? header(headers, 'x-gitea-event') ?? 'push',
        deliveryId: header(headers, `x-${provider}-delivery`) ?? header(headers, 'x-gitea-delivery'),
      });
    }
    case 'gitlab': {
      const token = header(headers, 'x-gitlab-token');
      if (token === undefined) return missing('X-Gitlab-Token');
      if (!sameSecret(token, secret)) return bad('X-Gitlab-Token does not match');
      return {
        ok: true,
        event: header(headers, 'x-gitlab-event') ?? 'Push Hook',
        deliveryId: header(headers, 'x-gitlab-event-uuid') ?? header(headers, 'idempotency-key'),
        fingerprint: digest('gitlab', body),
      };
    }
    case 'generic':
      return generic(headers, body, secret, now);
  }
}

function generic(headers: Headers, body: Buffer, secret: string, now: number): Verdict {
  const deliveryId = header(headers, 'x-delivery');
  const signature = header(headers, 'x-signature');
  if (signature !== undefined) {
    const ts = header(headers, 'x-timestamp');
    if (ts === undefined)
      return hmacHeader(headers, 'x-signature', 'sha256=', body, secret, { event: 'push', deliveryId });
    if (!/^\d{1,12}$/.test(ts))
      return { ok: false, reason: 'BadTimestamp', message: 'X-Timestamp: expected unix seconds' };
    if (Math.abs(now - Number(ts) * 1000) > MAX_TIMESTAMP_SKEW_MS)
      return {
        ok: false,
        reason: 'StaleTimestamp',
        message: `X-Timestamp is more than ${MAX_TIMESTAMP_SKEW_MS / 60_000} minutes away from now`,
      };
    const signed = Buffer.concat([Buffer.from(`${ts}.`), body]);
    return hmacHeader(headers, 'x-signature', 'sha256=', signed, secret, { event: 'push', deliveryId });
  }
  const auth = header(headers, 'authorization');
  if (auth === undefined) return missing('X-Signature or Authorization: Bearer');
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  if (m === null || !sameSecret(m[1] ?? '', secret)) return bad('Authorization bearer token does not match');
  return { ok: true, event: 'push', deliveryId, fingerprint: digest('generic', body) };
}

function hmacHeader(
  headers: Headers,
  name: string,
  prefix: string,
  signed: Buffer,
  secret: string,
  found: { event: string; deliveryId: string | undefined },
): Verdict {
  const value = header(headers, name);
  if (value === undefined) return missing(canonical(name));
  if (!value.startsWith(prefix)) return bad(`${canonical(name)}: expected ${prefix}<hex>`);
  const given = value.slice(prefix.length);
  const want = createHmac('sha256', secret).update(signed).digest('hex');
  if (
    !/^[0-9a-fA-F]{64}$/.test(given) ||
    !timingSafeEqual(Buffer.from(given.toLowerCase()), Buffer.from(want))
  )
    return bad(`${canonical(name)} does not match the body`);
  return { ok: true, ...found, fingerprint: digest(name, Buffer.from(given.toLowerCase())) };
}

/** Constant-time equality of two secrets of any length (compares their digests). */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function digest(kind: string, data: Buffer): string {
  return createHash('sha256').update(kind).update('\0').update(data).digest('hex');
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function canonical(name: string): string {
  return name
    .split('-')
    .map((p) => (p === 'github' ? 'GitHub' : p.charAt(0).toUpperCase() + p.slice(1)))
    .join('-');
}

function missing(what: string): Refusal {
  return { ok: false, reason: 'MissingSignature', message: `missing ${what}` };
}

function bad(message: string): Refusal {
  return { ok: false, reason: 'BadSignature', message };
}

/** The signature header value a host would send for `body` (tests, `bench/`, docs). */
export function sign(provider: Exclude<Provider, 'gitlab'>, body: string | Buffer, secret: string): string {
  const hex = createHmac('sha256', secret).update(body).digest('hex');
  return provider === 'gitea' || provider === 'forgejo' ? hex : `sha256=${hex}`;
}
