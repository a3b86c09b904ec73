import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookReceiver, type WebhookOutcome } from './receiver.ts';
import { sign } from './verify.ts';

const SECRET = 'shh-webhook-secret';

interface Reply {
  code: number;
  body: string;
}

function post(
  port: number,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const push = (n: number, ref = 'refs/heads/main'): string =>
  JSON.stringify({ ref, after: n.toString(16).padStart(40, '0') });
const github = (body: string, delivery: string, event = 'push'): Record<string, string> => ({
  'x-github-event': event,
  'x-github-delivery': delivery,
  'x-hub-signature-256': sign('github', body, SECRET),
});

let stop: AbortController | undefined;
afterEach(() => stop?.abort());

async function start(poll: () => Promise<unknown>, extra: { maxBodyBytes?: number } = {}) {
  const r = new WebhookReceiver({
    address: '127.0.0.1:0',
    secret: SECRET,
    poll,
    branch: () => 'main',
    ...extra,
  });
  stop = new AbortController();
  const running = r.start(stop.signal);
  await r.synced;
  const outcomes: WebhookOutcome[] = [];
  r.onOutcome((o) => outcomes.push(o));
  return { r, port: r.address()!.port, running, outcomes };
}

describe('WebhookReceiver', () => {
  it('a request signed like GitHub’s starts a poll before it is answered', async () => {
    const order: string[] = [];
    const { port } = await start(() => {
      order.push('poll');
      return Promise.resolve();
    });
    const body = push(1);
    const reply = await post(port, '/hook/github', body, github(body, 'd-1'));
    order.push(`response ${reply.code}`);
    expect(order).toEqual(['poll', 'response 202']);
    expect(JSON.parse(reply.body)).toMatchObject({ reason: 'Accepted' });
  });

  it('a wrong signature, a missing one, a replay and an oversized body do not poll', async () => {
    let polls = 0;
    const { port, outcomes } = await start(() => Promise.resolve(void polls++), { maxBodyBytes: 1024 });
    const body = push(2);
    const wrong = { ...github(body, 'd-2'), 'x-hub-signature-256': sign('github', body, 'not-the-secret') };
    expect((await post(port, '/hook/github', body, wrong)).code).toBe(401);
    expect((await post(port, '/hook/github', body, { 'x-github-event': 'push' })).code).toBe(401);
    expect(polls).toBe(0);
    expect((await post(port, '/hook/github', body, github(body, 'd-3'))).code).toBe(202);
    expect(polls).toBe(1);
    // The same delivery again, and the same signed body under a fresh delivery id.
    expect((await post(port, '/hook/github', body, github(body, 'd-3'))).code).toBe(409);
    expect((await post(port, '/hook/github', body, github(body, 'd-4'))).code).toBe(409);
    const big = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(4096) });
    expect((await post(port, '/hook/github', big, github(big, 'd-5'))).code).toBe(413);
    expect(polls).toBe(1);
    expect(outcomes.map((o) => o.reason)).toEqual([
      'BadSignature',
      'MissingSignature',
      'Accepted',
      'Replay',
      'Replay',
      'TooLarge',
    ]);
    expect(JSON.stringify(outcomes)).not.toContain(SECRET);
  });

  it('answers pings and pushes to other branches without polling', async () => {
    let polls = 0;
    const { port } = await start(() => Promise.resolve(void polls++));
    const ping = '{"zen":"Keep it logically awesome."}';
    expect((await post(port, '/hook/github', ping, github(ping, 'p-1', 'ping'))).code).toBe(200);
    const other = push(3, 'refs/heads/feature');
    const reply = await post(port, '/hook/github', other, github(other, 'o-1'));
    expect(reply.code).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ reason: 'OtherBranch' });
    expect(polls).toBe(0);
  });

  it('checks each host its own way', async () => {
    let polls = 0;
    const { port } = await start(() => Promise.resolve(void polls++));
    const b = (n: number): string => push(100 + n);
    expect(
      (await post(port, '/hook/gitlab', b(1), { 'x-gitlab-token': SECRET, 'x-gitlab-event': 'Push Hook' }))
        .code,
    ).toBe(202);
    expect((await post(port, '/hook/gitlab', b(2), { 'x-gitlab-token': 'guess' })).code).toBe(401);
    expect(
      (
        await post(port, '/hook/gitea', b(3), {
          'x-gitea-signature': sign('gitea', b(3), SECRET),
          'x-gitea-event': 'push',
        })
      ).code,
    ).toBe(202);
    expect(
      (await post(port, '/hook/forgejo', b(4), { 'x-forgejo-signature': sign('forgejo', b(4), SECRET) }))
        .code,
    ).toBe(202);
    expect((await post(port, '/hook/generic', b(5), { authorization: `Bearer ${SECRET}` })).code).toBe(202);
    expect(
      (await post(port, '/hook/generic', b(6), { 'x-signature': sign('generic', b(6), SECRET) })).code,
    ).toBe(202);
    expect((await post(port, '/hook/bitbucket', b(7), {})).code).toBe(404);
    expect(polls).toBeGreaterThanOrEqual(1);
  });

  it('a flood of valid calls gives one poll in flight plus one queued', async () => {
    let started = 0;
    const release: (() => void)[] = [];
    const { r, port, outcomes } = await start(
      () =>
        new Promise<void>((res) => {
          started++;
          release.push(res);
        }),
    );
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const body = push(1000 + i);
        return post(port, '/hook/github', body, github(body, `f-${i}`));
      }),
    );
    expect(replies.every((x) => x.code === 202)).toBe(true);
    expect(started).toBe(1);
    const polls = outcomes.map((o) => o.poll);
    expect(polls.filter((p) => p === 'started')).toHaveLength(1);
    expect(polls.filter((p) => p === 'queued')).toHaveLength(1);
    expect(polls.filter((p) => p === 'coalesced')).toHaveLength(48);
    release.shift()!();
    await new Promise((res) => setImmediate(res));
    expect(started).toBe(2);
    release.shift()!();
    await r.trigger.idle();
    expect(started).toBe(2);
  });

  it('refuses other methods and an empty secret', async () => {
    const { port } = await start(() => Promise.resolve());
    const reply = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port, path: '/hook/github', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).end();
    });
    expect(reply).toBe(405);
    expect(() => new WebhookReceiver({ address: ':0', secret: '', poll: () => Promise.resolve() })).toThrow(
      /secret is empty/,
    );
  });
});
