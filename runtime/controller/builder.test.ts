import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../clock/index.ts';
import { Store } from '../store/index.ts';
import { controllerFor } from './builder.ts';
import { reconcilerFunc } from './reconcile.ts';

const obj = (kind: string, name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: API_VERSION,
  kind,
  metadata: { name },
  spec,
});

describe('controllerFor', () => {
  it('for() enqueues own keys, watches() maps other kinds, watchesChannel() maps emissions', async () => {
    const clock = new FakeClock();
    const store = new Store({ clock });
    const seen: string[] = [];
    const channel = new Subject<void>();
    const c = controllerFor('test', { clock })
      .for(store, 'Deployment')
      .watches(store, 'Node', () => ['Deployment/from-node'])
      .watchesChannel(channel, () => ['Deployment/from-channel'])
      .withOptions({ workers: 2 })
      .complete(
        reconcilerFunc((ctx) => {
          seen.push(ctx.key);
          return Promise.resolve();
        }),
      );
    const ac = new AbortController();
    const running = c.start(ac.signal);
    store.apply({ kinds: ['Deployment', 'Node'], objects: [obj('Deployment', 'web'), obj('Node', 'n1')] });
    channel.next();
    await clock.advance(10);
    expect([...seen].sort()).toEqual(['Deployment/from-channel', 'Deployment/from-node', 'Deployment/web']);
    ac.abort();
    await running;
    channel.next(); // unsubscribed at stop: nothing happens
    expect(seen).toHaveLength(3);
  });
});
