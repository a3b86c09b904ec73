/**
 * Where Caddy finds each route's upstream without a config reload: a tiny DNS server on a loopback
 * UDP port that answers `A <route id>.upstream.orun.` (AAAA for an IPv6 one) with the IP of the container serving it, and
 * that Caddy's `dynamic_upstreams` (source `a`) asks every `refresh`.
 *
 * Why (issue 10, measured in bench/ingress-switch.ts): every config change in Caddy 2.6.2 (a POST
 * /load, and a PATCH of one path too, which reloads the whole config) binds new SO_REUSEPORT
 * listeners and closes the old ones; a connection still in the closing socket's accept queue is
 * reset (ECONNRESET, no answer). With the upstream behind a name, switching it is a table update in
 * this process: the Caddy config does not change, so no listener is closed.
 *
 * A switch is complete once Caddy can no longer use the old IP: when it has looked the name up after
 * the change (lookups are serialised in Caddy, so the answer it caches is the new one), or when its
 * cached answer has expired (`refresh` + a margin after the change, for a name nobody requested).
 */
import { isIPv6 } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { OrunError } from '../../apis/errors.ts';
import { realClock, type Clock } from '../clock/index.ts';

/** Caddy's cache lifetime of an answer (`dynamic_upstreams.refresh`). */
export const UPSTREAM_REFRESH_MS = 1000;
/** Added to the refresh before an unasked name counts as switched (Caddy stamps after its lookup). */
const SETTLE_MARGIN_MS = 250;

/** The DNS name Caddy looks up for route `id` (a DNS-1123 label). Fully qualified: no search list. */
export function upstreamHostName(id: string): string {
  return `${id}.upstream.orun.`;
}

/** The table of upstream IPs the Service reconciler keeps (UpstreamDNS, or FakeUpstreamDNS in tests). */
export interface UpstreamTable {
  /** `udp/127.0.0.1:<port>`: Caddy's `resolver.addresses` entry. Binds the socket on first use. */
  address(): Promise<string>;
  /** Points route `id` at `ip` (undefined: no answer). */
  set(id: string, ip: string | undefined): void;
  /** The IPs Caddy may still send new requests to for route `id`: one once a switch completed, two during it. */
  inUse(id: string): string[];
  /** Forgets routes not in `ids`. */
  retain(ids: ReadonlySet<string>): void;
}

interface Entry {
  ip: string | undefined;
  /** The IPs before the last change, which Caddy may still hold until the change settles. */
  previous: string[];
  changedAt: number;
  /** Caddy asked for this name since the change. */
  asked: boolean;
}

export interface UpstreamDNSOptions {
  /** Default: the real clock. */
  clock?: Clock;
  /** Caddy's refresh (ms). Default {@link UPSTREAM_REFRESH_MS}. */
  refreshMs?: number;
}

/** `ip:port` or `[ip6]:port` → its parts (the IP without brackets). */
export function splitUpstream(upstream: string): { ip: string; port: string } {
  const at = upstream.lastIndexOf(':');
  return { ip: upstream.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: upstream.slice(at + 1) };
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;

/**
 * The table behind the names: what each name answers, and which IPs Caddy may still use. Pure (no
 * socket); UpstreamDNS serves it, FakeUpstreamDNS (fake.ts) gives it a fixed address for unit tests.
 */
export class UpstreamNames {
  readonly #clock: Clock;
  readonly #settleMs: number;
  readonly #entries = new Map<string, Entry>();

  constructor(o: UpstreamDNSOptions = {}) {
    this.#clock = o.clock ?? realClock;
    this.#settleMs = (o.refreshMs ?? UPSTREAM_REFRESH_MS) + SETTLE_MARGIN_MS;
  }

  set(id: string, ip: string | undefined): void {
    const e = this.#entries.get(id);
    if (e !== undefined && e.ip === ip) return;
    const held = e === undefined ? [] : this.#settled(e) ? [e.ip] : [...e.previous, e.ip];
    const previous = [...new Set(held.filter((x): x is string => x !== undefined && x !== ip))];
    this.#entries.set(id, { ip, previous, changedAt: this.#clock.now(), asked: false });
  }

  inUse(id: string): string[] {
    const e = this.#entries.get(id);
    if (e === undefined) return [];
    const ips = this.#settled(e) ? [e.ip] : [...e.previous, e.ip];
    return [...new Set(ips.filter((ip): ip is string => ip !== undefined))];
  }

  retain(ids: ReadonlySet<string>): void {
    for (const id of [...this.#entries.keys()]) if (!ids.has(id)) this.#entries.delete(id);
  }

  /**
   * What `host` (lower case, with or without the final dot) answers: `nxdomain` for a name not in
   * the table (or with no IP), `nodata` for the other address family, else `{ ip }`. An answer with
   * the IP completes a switch (Caddy caches it).
   */
  lookup(host: string, family: 4 | 6): { ip: string } | 'nxdomain' | 'nodata' {
    const name = host.endsWith('.') ? host : `${host}.`;
    const suffix = '.upstream.orun.';
    const e = name.endsWith(suffix) ? this.#entries.get(name.slice(0, -suffix.length)) : undefined;
    if (e?.ip === undefined) return 'nxdomain';
    if ((isIPv6(e.ip) ? 6 : 4) !== family) return 'nodata';
    e.asked = true;
    return { ip: e.ip };
  }

  #settled(e: Entry): boolean {
    return e.asked || this.#clock.now() - e.changedAt >= this.#settleMs;
  }
}

/** The DNS server over the table. `start(signal)` is a Runnable; `address()` also binds on demand. */
export class UpstreamDNS extends UpstreamNames implements UpstreamTable {
  readonly name = 'caddy-upstream-dns';
  #socket: Promise<Socket> | undefined;
  #closed = false;

  async address(): Promise<string> {
    const socket = await this.#bind();
    return `udp/127.0.0.1:${socket.address().port}`;
  }

  /** Serves until `signal` aborts, then closes the socket. */
  async start(signal: AbortSignal): Promise<void> {
    await this.#bind();
    if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    await this.close();
  }

  /** Closes the socket; `address()` rejects `caddy.upstream_dns_closed` from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    const s = await this.#socket?.catch(() => undefined);
    this.#socket = undefined;
    if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
  }

  #bind(): Promise<Socket> {
    if (this.#closed)
      return Promise.reject(new OrunError('caddy.upstream_dns_closed', 'caddy: upstream DNS: closed'));
    this.#socket ??= new Promise<Socket>((resolve, reject) => {
      const s = createSocket('udp4');
      // Before the bind, an error fails it; after, a socket error must not crash the agent (the
      // asker retries; Caddy keeps its cached answer meanwhile), so it is ignored.
      s.on('error', (err) =>
        reject(new OrunError('caddy.upstream_dns_failed', `caddy: upstream DNS: bind: ${err.message}`)),
      );
      s.on('message', (msg, from) => {
        const reply = this.#reply(msg);
        if (reply !== undefined) s.send(reply, from.port, from.address, () => undefined);
      });
      s.bind(0, '127.0.0.1', () => resolve(s));
    });
    return this.#socket;
  }

  /** The answer to one query; undefined for a packet too short to answer at all. */
  #reply(msg: Buffer): Buffer | undefined {
    if (msg.length < 12) return undefined;
    const q = parseQuestion(msg);
    if (q === undefined || msg.readUInt16BE(4) !== 1) return header(msg, RCODE_FORMERR, 0, 0);
    const question = msg.subarray(12, q.end);
    const family = q.qtype === TYPE_AAAA ? 6 : q.qtype === TYPE_A ? 4 : undefined;
    const found =
      q.qclass !== CLASS_IN ? 'nxdomain' : family === undefined ? 'nodata' : this.lookup(q.name, family);
    if (found === 'nxdomain') return Buffer.concat([header(msg, RCODE_NXDOMAIN, 1, 0), question]);
    if (found === 'nodata') return Buffer.concat([header(msg, 0, 1, 0), question]);
    const rdata = isIPv6(found.ip) ? ipv6Bytes(found.ip) : Buffer.from(found.ip.split('.').map(Number));
    const answer = Buffer.alloc(12);
    answer.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    answer.writeUInt16BE(q.qtype, 2);
    answer.writeUInt16BE(CLASS_IN, 4);
    answer.writeUInt32BE(0, 6); // TTL 0: Caddy's own refresh is the cache
    answer.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([header(msg, 0, 1, 1), question, answer, rdata]);
  }
}

/** A response header for query `msg`: same id and RD bit, QR + AA + RA set (Go's resolver wants AA or RA). */
function header(msg: Buffer, rcode: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(msg.readUInt16BE(0), 0);
  const rd = msg.readUInt8(2) & 0x01;
  h.writeUInt8(0x80 | 0x04 | rd, 2);
  h.writeUInt8(0x80 | rcode, 3);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

/** The 16 bytes of an IPv6 address in any textual form (`::` expanded). */
function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** The first question: lower-case name without the final dot, type, class, and where it ends. */
function parseQuestion(
  msg: Buffer,
): { name: string; qtype: number; qclass: number; end: number } | undefined {
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg.readUInt8(at);
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined; // no compression in a question
    labels.push(msg.toString('latin1', at + 1, at + 1 + len).toLowerCase());
    at += 1 + len;
  }
  if (at + 5 > msg.length) return undefined;
  return {
    name: labels.join('.'),
    qtype: msg.readUInt16BE(at + 1),
    qclass: msg.readUInt16BE(at + 3),
    end: at + 5,
  };
}
