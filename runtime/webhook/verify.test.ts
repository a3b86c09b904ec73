import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sign, verify, type Headers, type Provider } from './verify.ts';

const SECRET = 'It’s a Secret to Everybody';
const BODY = Buffer.from('{"ref":"refs/heads/main","after":"abc"}');
const NOW = Date.UTC(2026, 0, 1);
const hmac = (data: string | Buffer, key = SECRET): string =>
  createHmac('sha256', key).update(data).digest('hex');

describe('verify', () => {
  // GitHub's documented test vector: secret "It's a Secret to Everybody", payload "Hello, World!".
  it('matches GitHub’s published example signature', () => {
    const v = verify(
      'github',
      {
        'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
        'x-github-event': 'push',
        'x-github-delivery': 'd1',
      },
      Buffer.from('Hello, World!'),
      "It's a Secret to Everybody",
      NOW,
    );
    expect(v).toMatchObject({ ok: true, event: 'push', deliveryId: 'd1' });
  });

  it.each<[string, Provider, Headers, { ok: boolean; reason?: string; event?: string; deliveryId?: string }]>(
    [
      [
        'github ok',
        'github',
        {
          'x-hub-signature-256': `sha256=${hmac(BODY)}`,
          'x-github-event': 'push',
          'x-github-delivery': 'g1',
        },
        { ok: true, event: 'push', deliveryId: 'g1' },
      ],
      [
        'github ping',
        'github',
        { 'x-hub-signature-256': `sha256=${hmac(BODY)}`, 'x-github-event': 'ping' },
        { ok: true, event: 'ping' },
      ],
      [
        'github wrong key',
        'github',
        { 'x-hub-signature-256': `sha256=${hmac(BODY, 'other')}` },
        { ok: false, reason: 'BadSignature' },
      ],
      [
        'github no prefix',
        'github',
        { 'x-hub-signature-256': hmac(BODY) },
        { ok: false, reason: 'BadSignature' },
      ],
      [
        'github sha1 only',
        'github',
        { 'x-hub-signature': 'sha1=00' },
        { ok: false, reason: 'MissingSignature' },
      ],
      [
        'github short hex',
        'github',
        { 'x-hub-signature-256': 'sha256=abcd' },
        { ok: false, reason: 'BadSignature' },
      ],
      [
        'gitlab ok',
        'gitlab',
        { 'x-gitlab-token': SECRET, 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'u1' },
        { ok: true, event: 'Push Hook', deliveryId: 'u1' },
      ],
      [
        'gitlab idempotency key',
        'gitlab',
        { 'x-gitlab-token': SECRET, 'idempotency-key': 'k1' },
        { ok: true, deliveryId: 'k1' },
      ],
      ['gitlab wrong token', 'gitlab', { 'x-gitlab-token': 'nope' }, { ok: false, reason: 'BadSignature' }],
      ['gitlab missing', 'gitlab', {}, { ok: false, reason: 'MissingSignature' }],
      [
        'gitea ok',
        'gitea',
        { 'x-gitea-signature': hmac(BODY), 'x-gitea-event': 'push', 'x-gitea-delivery': 'e1' },
        { ok: true, event: 'push', deliveryId: 'e1' },
      ],
      ['gitea via github header', 'gitea', { 'x-hub-signature-256': `sha256=${hmac(BODY)}` }, { ok: true }],
      ['gitea wrong', 'gitea', { 'x-gitea-signature': hmac('x') }, { ok: false, reason: 'BadSignature' }],
      [
        'forgejo ok',
        'forgejo',
        { 'x-forgejo-signature': hmac(BODY), 'x-forgejo-event': 'push', 'x-forgejo-delivery': 'f1' },
        { ok: true, deliveryId: 'f1' },
      ],
      [
        'forgejo wrong',
        'forgejo',
        { 'x-forgejo-signature': hmac(BODY, 'k') },
        { ok: false, reason: 'BadSignature' },
      ],
      [
        'generic hmac',
        'generic',
        { 'x-signature': `sha256=${hmac(BODY)}`, 'x-delivery': 'x1' },
        { ok: true, event: 'push', deliveryId: 'x1' },
      ],
      [
        'generic hmac + timestamp',
        'generic',
        {
          'x-signature': `sha256=${hmac(`${NOW / 1000}.${BODY.toString()}`)}`,
          'x-timestamp': String(NOW / 1000),
        },
        { ok: true },
      ],
      [
        'generic stale timestamp',
        'generic',
        {
          'x-signature': `sha256=${hmac(`${NOW / 1000 - 600}.${BODY.toString()}`)}`,
          'x-timestamp': String(NOW / 1000 - 600),
        },
        { ok: false, reason: 'StaleTimestamp' },
      ],
      [
        'generic timestamp not signed',
        'generic',
        { 'x-signature': `sha256=${hmac(BODY)}`, 'x-timestamp': String(NOW / 1000) },
        { ok: false, reason: 'BadSignature' },
      ],
      [
        'generic bad timestamp',
        'generic',
        { 'x-signature': 'sha256=00', 'x-timestamp': 'soon' },
        { ok: false, reason: 'BadTimestamp' },
      ],
      ['generic bearer', 'generic', { authorization: `Bearer ${SECRET}` }, { ok: true }],
      [
        'generic wrong bearer',
        'generic',
        { authorization: 'Bearer nope' },
        { ok: false, reason: 'BadSignature' },
      ],
      ['generic nothing', 'generic', {}, { ok: false, reason: 'MissingSignature' }],
    ],
  )('%s', (_name, provider, headers, want) => {
    expect(verify(provider, headers, BODY, SECRET, NOW)).toMatchObject(want);
  });

  it('never echoes the secret in a refusal', () => {
    const v = verify('gitlab', { 'x-gitlab-token': 'guess' }, BODY, SECRET, NOW);
    expect(JSON.stringify(v)).not.toContain(SECRET);
  });

  it('gives the same fingerprint to a resent request, whatever its delivery id', () => {
    const h = (d: string): Headers => ({
      'x-hub-signature-256': sign('github', BODY, SECRET),
      'x-github-delivery': d,
    });
    const a = verify('github', h('1'), BODY, SECRET, NOW);
    const b = verify('github', h('2'), BODY, SECRET, NOW);
    expect(a.ok && b.ok && a.fingerprint === b.fingerprint).toBe(true);
  });
});
