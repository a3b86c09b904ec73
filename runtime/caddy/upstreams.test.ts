import { Resolver } from 'node:dns/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { FakeClock } from '../clock/index.ts';
import { FakeUpstreamDNS } from './fake.ts';
import {
  splitUpstream,
  UPSTREAM_REFRESH_MS,
  UpstreamDNS,
  upstreamHostName,
  UpstreamNames,
} from './upstreams.ts';

/** The same table semantics, whether served over UDP (the real one) or not (the fake). */
describe.each([
  { name: 'UpstreamNames', make: (clock: FakeClock) => new UpstreamNames({ clock }) },
  { name: 'FakeUpstreamDNS', make: (clock: FakeClock) => new FakeUpstreamDNS({ clock }) },
  { name: 'UpstreamDNS', make: (clock: FakeClock) => new UpstreamDNS({ clock }) },
])('$name: a switch completes when Caddy asked again or its cached answer expired', ({ make }) => {
  it('a new name is in use at once; a changed one keeps the old IP until asked or the refresh passed', async () => {
    const clock = new FakeClock();
    const t = make(clock);
    t.set('web', '172.18.0.5');
    expect(t.inUse('web')).toEqual(['172.18.0.5']);
    expect(t.lookup('web.upstream.orun.', 4)).toEqual({ ip: '172.18.0.5' });

    t.set('web', '172.18.0.6');
    expect(t.inUse('web')).toEqual(['172.18.0.5', '172.18.0.6']);
    expect(t.lookup('web.upstream.orun', 6)).toBe('nodata'); // AAAA of an IPv4 name: not an answer
    expect(t.inUse('web')).toEqual(['172.18.0.5', '172.18.0.6']);
    expect(t.lookup('web.upstream.orun', 4)).toEqual({ ip: '172.18.0.6' });
    expect(t.inUse('web')).toEqual(['172.18.0.6']);

    t.set('web', '172.18.0.7'); // nobody asks: the old answer expires in Caddy's cache
    await clock.advance(UPSTREAM_REFRESH_MS);
    expect(t.inUse('web')).toEqual(['172.18.0.6', '172.18.0.7']);
    await clock.advance(250);
    expect(t.inUse('web')).toEqual(['172.18.0.7']);
  });

  it('two changes before Caddy asked: both earlier IPs may still be in use', async () => {
    const clock = new FakeClock();
    const t = make(clock);
    t.set('web', '10.0.0.1');
    t.set('web', '10.0.0.2');
    await clock.advance(100);
    t.set('web', '10.0.0.3');
    expect(t.inUse('web')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('unknown and removed names answer nxdomain', () => {
    const t = make(new FakeClock());
    t.set('web', '10.0.0.1');
    t.set('api', '10.0.0.2');
    t.retain(new Set(['api']));
    expect(t.lookup('web.upstream.orun.', 4)).toBe('nxdomain');
    expect(t.lookup('other.example.', 4)).toBe('nxdomain');
    expect(t.inUse('web')).toEqual([]);
    t.set('api', undefined);
    expect(t.lookup('api.upstream.orun.', 4)).toBe('nxdomain');
  });
});

describe('UpstreamDNS over UDP (what Caddy queries)', () => {
  let dns: UpstreamDNS | undefined;
  afterEach(async () => dns?.close());

  const resolver = async (d: UpstreamDNS): Promise<Resolver> => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([(await d.address()).replace(/^udp\//, '')]);
    return r;
  };

  it('answers A and AAAA for its names, NODATA for the other family, NXDOMAIN for others', async () => {
    dns = new UpstreamDNS();
    dns.set('web', '172.18.0.5');
    dns.set('v6', 'fd00::a:5');
    const r = await resolver(dns);
    expect(await dns.address()).toMatch(/^udp\/127\.0\.0\.1:\d+$/);
    expect(await r.resolve4(upstreamHostName('web'))).toEqual(['172.18.0.5']);
    expect(await r.resolve4('WEB.Upstream.orun')).toEqual(['172.18.0.5']);
    expect(await r.resolve6(upstreamHostName('v6'))).toEqual(['fd00::a:5']);
    await expect(r.resolve6(upstreamHostName('web'))).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(r.resolve4(upstreamHostName('nope'))).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(r.resolveMx(upstreamHostName('web'))).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('rejects caddy.upstream_dns_closed after close', async () => {
    dns = new UpstreamDNS();
    await dns.address();
    await dns.close();
    const err = await dns.address().catch((e: unknown) => e);
    expect(isOrunError(err, 'caddy.upstream_dns_closed')).toBe(true);
  });

  it('start(signal) serves until the signal aborts', async () => {
    dns = new UpstreamDNS();
    const stop = new AbortController();
    const running = dns.start(stop.signal);
    dns.set('web', '10.1.1.1');
    expect(await (await resolver(dns)).resolve4(upstreamHostName('web'))).toEqual(['10.1.1.1']);
    stop.abort();
    await running;
    await expect(dns.address()).rejects.toThrow(/closed/);
  });
});

describe('splitUpstream', () => {
  it.each([
    ['172.18.0.5:80', { ip: '172.18.0.5', port: '80' }],
    ['[fd00::5]:8080', { ip: 'fd00::5', port: '8080' }],
  ])('%s', (u, parts) => expect(splitUpstream(u)).toEqual(parts));
});

describe('UpstreamDNS robustness', () => {
  it('a malformed or truncated query gets FORMERR or nothing, and the server keeps answering', async () => {
    const { createSocket } = await import('node:dgram');
    const dns = new UpstreamDNS();
    try {
      dns.set('web', '10.2.2.2');
      const port = Number((await dns.address()).split(':').pop());
      const client = createSocket('udp4');
      const replies: Buffer[] = [];
      const first = new Promise<void>((r) => client.once('message', () => r()));
      client.on('message', (m) => replies.push(m));
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
      const send = (b: Buffer): Promise<void> =>
        new Promise((r) => client.send(b, port, '127.0.0.1', () => r()));
      await send(Buffer.from([1, 2, 3])); // too short: no answer
      const header = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
      await send(Buffer.concat([header, Buffer.from([200, 1, 2])])); // a label running past the end
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      expect(await r.resolve4(upstreamHostName('web'))).toEqual(['10.2.2.2']);
      await first; // the answer to the bad label (the short packet got none)
      expect(replies).toHaveLength(1);
      expect(replies[0]!.readUInt16BE(0)).toBe(0xabcd);
      expect(replies[0]!.readUInt8(3) & 0x0f).toBe(1); // FORMERR
      client.close();
    } finally {
      await dns.close();
    }
  });
});
