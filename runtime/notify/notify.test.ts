import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { classify, type StatusView } from './classify.ts';
import { Notifier, parseEndpoint, type Delivery } from './notifier.ts';

const c = (type: string, status: 'True' | 'False', reason: string, message = reason): Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const view = (
  conditions: Condition[],
  generation = 2,
  observedGeneration = 2,
  kind = 'Deployment',
): StatusView => ({
  kind,
  name: 'web',
  generation,
  observedGeneration,
  conditions,
});

describe('classify', () => {
  it.each([
    [
      'first sight (a restart adopting a running container)',
      undefined,
      view([c('Ready', 'True', 'ContainerReady')]),
      [],
    ],
    [
      'rollout succeeded',
      view([c('Ready', 'False', 'Replacing')]),
      view([c('Ready', 'True', 'ContainerReady')]),
      ['RolloutSucceeded'],
    ],
    ['no status yet, then ready (adopted)', view([]), view([c('Ready', 'True', 'ContainerReady')]), []],
    [
      'the engine went away: Ready=Unknown is neither a failure',
      view([c('Ready', 'True', 'ContainerReady')]),
      view([{ ...c('Ready', 'True', 'EngineUnavailable'), status: 'Unknown' }]),
      [],
    ],
    [
      '… nor is its return a rollout',
      view([{ ...c('Ready', 'True', 'EngineUnavailable'), status: 'Unknown' }]),
      view([c('Ready', 'True', 'ContainerReady')]),
      [],
    ],
    [
      'still ready',
      view([c('Ready', 'True', 'ContainerReady')]),
      view([c('Ready', 'True', 'ContainerReady')]),
      [],
    ],
    [
      'in progress is not a failure',
      view([c('Ready', 'True', 'ContainerReady')]),
      view([c('Ready', 'False', 'Replacing')]),
      [],
    ],
    [
      'a rollout phase (Reconciling=True) is not a failure',
      view([c('Ready', 'True', 'ContainerReady')]),
      view([c('Ready', 'False', 'Draining'), c('Reconciling', 'True', 'Draining')]),
      [],
    ],
    [
      'Reconciling=True with any reason is in progress',
      view([c('Ready', 'True', 'ContainerReady')]),
      view([c('Ready', 'False', 'SomethingNew'), c('Reconciling', 'True', 'SomethingNew')]),
      [],
    ],
    [
      'rollout failed',
      view([c('Ready', 'False', 'Pulling')]),
      view([c('Ready', 'False', 'ImagePullFailed')]),
      ['RolloutFailed'],
    ],
    [
      'stalled',
      view([c('Ready', 'False', 'Starting')]),
      view([c('Ready', 'False', 'CrashLoopBackOff'), c('Stalled', 'True', 'CrashLoopBackOff')]),
      ['Stalled'],
    ],
    [
      'sync failed',
      view([c('GitSynced', 'True', 'Succeeded')], 1, 1, 'Node'),
      view([c('GitSynced', 'False', 'GitOperationFailed')], 1, 1, 'Node'),
      ['SyncFailed'],
    ],
  ] as const)('%s', (_n, prev, next, events) => {
    expect(classify(prev, next).map((n) => n.event)).toEqual(events);
  });
});

interface Received {
  path: string;
  body: Record<string, unknown>;
}

let close: (() => void) | undefined;
afterEach(() => close?.());

/** A local receiver: `/flaky` answers 500 `failures` times, then 200; `/404` always 404; else 200. */
async function receiver(failures: number): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  let failed = 0;
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      if (req.url === '/flaky' && failed < failures) {
        failed++;
        res.writeHead(500).end();
        return;
      }
      if (req.url === '/404') {
        res.writeHead(404).end();
        return;
      }
      got.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = () => server.close();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

const notice = {
  event: 'RolloutFailed',
  kind: 'Deployment',
  name: 'web',
  reason: 'ImagePullFailed',
  message: 'pull ENC[AES256_GCM,data:x,type:str] failed',
  generation: 3,
} as const;

function collect(n: Notifier, count: number): { deliveries: Delivery[]; done: Promise<void> } {
  const deliveries: Delivery[] = [];
  const done = new Promise<void>((r) =>
    n.onDelivery((d) => {
      deliveries.push(d);
      if (deliveries.length === count) r();
    }),
  );
  return { deliveries, done };
}

describe('Notifier', () => {
  it('posts generic JSON and Slack text; a failing endpoint is retried with back-off until it takes it', async () => {
    const { url, got } = await receiver(2);
    const n = new Notifier({
      endpoints: [
        { type: 'generic', url: `${url}/flaky` },
        { type: 'slack', url: `${url}/ok` },
      ],
      nodeName: 'edge-1',
      revision: () => 'main@sha1:0123456789',
      retryBaseMs: 5,
    });
    const { deliveries, done } = collect(n, 2);
    n.notify(notice);
    await done;
    expect(deliveries.find((d) => d.endpoint === 0)).toMatchObject({ ok: true, attempts: 3, status: 200 });
    expect(got.find((g) => g.path === '/flaky')?.body).toMatchObject({
      node: 'edge-1',
      kind: 'Deployment',
      name: 'web',
      event: 'RolloutFailed',
      severity: 'error',
      reason: 'ImagePullFailed',
      message: 'pull <secret> failed',
      revision: 'main@sha1:0123456789',
      generation: 3,
    });
    expect(got.find((g) => g.path === '/ok')?.body).toEqual({
      text: ':x: *deployment/web* rollout failed on edge-1 (main@sha1:0123456789): ImagePullFailed: pull <secret> failed',
    });
    expect(JSON.stringify(got)).not.toContain('ENC[');
  });

  it('gives up after the attempts, and does not retry a 4xx', async () => {
    const { url } = await receiver(100);
    const n = new Notifier({
      endpoints: [
        { type: 'generic', url: `${url}/flaky` },
        { type: 'generic', url: `${url}/404` },
      ],
      nodeName: 'n',
      retryBaseMs: 1,
      attempts: 3,
    });
    const { deliveries, done } = collect(n, 2);
    n.notify(notice);
    await done;
    expect(deliveries.find((d) => d.endpoint === 0)).toMatchObject({ ok: false, attempts: 3, status: 500 });
    expect(deliveries.find((d) => d.endpoint === 1)).toMatchObject({ ok: false, attempts: 1, status: 404 });
  });

  it('rate-limits per endpoint and sends a repeated notice once', async () => {
    const clock = new FakeClock();
    const sent: string[] = [];
    const fake = ((_url: string, init: { body: string }) => {
      sent.push(init.body);
      return Promise.resolve(new Response('ok'));
    }) as unknown as typeof fetch;
    const n = new Notifier({
      endpoints: [{ type: 'generic', url: 'http://x.test/' }],
      nodeName: 'n',
      perMinute: 2,
      clock,
      fetch: fake,
    });
    const { done } = collect(n, 3);
    n.notify(notice);
    n.notify(notice); // the same notice: sent once
    n.notify({ ...notice, name: 'b' });
    n.notify({ ...notice, name: 'c' }); // over 2 per minute: dropped
    clock.step(60_000);
    n.notify({ ...notice, name: 'd' });
    await done;
    expect(sent.map((b) => (JSON.parse(b) as { name: string }).name)).toEqual(['web', 'b', 'd']);
  });

  it('parses type=url endpoints', () => {
    expect(parseEndpoint('slack=https://hooks.slack.com/services/T/B/x')).toEqual({
      type: 'slack',
      url: 'https://hooks.slack.com/services/T/B/x',
    });
    expect(parseEndpoint('teams=https://x')).toBeUndefined();
    expect(parseEndpoint('generic=ftp://x')).toBeUndefined();
  });
});
