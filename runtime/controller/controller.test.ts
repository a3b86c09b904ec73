import { describe, expect, it } from 'vitest';
import { OrunError } from '../../apis/errors.ts';
import { FakeClock, flushMicrotasks } from '../clock/index.ts';
import { createLogger } from '../log/index.ts';
import { newRegistry, RuntimeMetrics, type Registry } from '../metrics/index.ts';
import { Store } from '../store/index.ts';
import { ItemExponentialFailureRateLimiter } from '../workqueue/index.ts';
import { Controller } from './controller.ts';
import { reconcilerFunc, terminalError, type ReconcileContext, type ReconcileResult } from './reconcile.ts';

async function metricValues(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name) as
    { values: { labels: Record<string, string | number>; value: number }[] } | undefined;
  const out: Record<string, number> = {};
  for (const v of m?.values ?? []) out[Object.values(v.labels).join(',')] = v.value;
  return out;
}

function setup(
  fn: (ctx: ReconcileContext, n: number) => ReconcileResult | void | Promise<ReconcileResult | void>,
  workers = 1,
) {
  const clock = new FakeClock();
  const registry = newRegistry();
  const calls: { key: string; at: number }[] = [];
  const c = new Controller({
    name: 'test',
    clock,
    workers,
    metrics: new RuntimeMetrics(registry),
    rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000),
    reconciler: reconcilerFunc(async (ctx) => {
      calls.push({ key: ctx.key, at: clock.now() - start });
      return await fn(ctx, calls.filter((x) => x.key === ctx.key).length);
    }),
  });
  const start = clock.now();
  const ac = new AbortController();
  const running = c.start(ac.signal);
  const stop = async (): Promise<void> => {
    ac.abort();
    await running;
  };
  return { clock, registry, calls, c, stop };
}

describe('Controller', () => {
  it('skips keys its gate holds (suspended), and reconciles them once the gate opens', async () => {
    const held = new Set(['Deployment/web']);
    const { clock, calls, c, stop } = setup(() => ({ requeueAfter: 60_000 }));
    c.setGate((key) => held.has(key));
    c.enqueue('Deployment/web');
    c.enqueue('Deployment/api');
    await clock.advance(10);
    expect(calls.map((x) => x.key)).toEqual(['Deployment/api']);
    held.clear();
    c.enqueue('Deployment/web');
    await clock.advance(10);
    expect(calls.map((x) => x.key)).toEqual(['Deployment/api', 'Deployment/web']);
    await stop();
  });

  it('retries a throwing reconcile with growing delays until it recovers, then forgets', async () => {
    const { clock, calls, c, registry, stop } = setup((_ctx, n) => {
      if (n <= 3) throw new OrunError('test.boom', `boom ${n}`);
    });
    c.enqueue('Deployment/web');
    await clock.advance(1000);
    expect(calls.map((x) => x.at)).toEqual([0, 5, 15, 35]);
    expect(c.queue.numRequeues('Deployment/web')).toBe(0);
    expect(await metricValues(registry, 'controller_runtime_reconcile_total')).toMatchObject({
      'test,error': 3,
      'test,success': 1,
      'test,requeue': 0,
      'test,requeue_after': 0,
    });
    expect(await metricValues(registry, 'controller_runtime_reconcile_errors_total')).toEqual({ test: 3 });
    expect(await metricValues(registry, 'workqueue_retries_total')).toEqual({ test: 3 });
    await stop();
  });

  it('a TerminalError is counted and logged once, then the key is forgotten: no retry storm', async () => {
    const { clock, calls, c, registry, stop } = setup(() => {
      throw terminalError(
        new OrunError('ContainerSpecInvalid', 'docker: create: Minimum memory limit allowed is 6MB'),
      );
    });
    c.enqueue('Deployment/web');
    await clock.advance(60_000);
    expect(calls).toHaveLength(1);
    expect(c.queue.numRequeues('Deployment/web')).toBe(0);
    expect(await metricValues(registry, 'controller_runtime_terminal_reconcile_errors_total')).toEqual({
      test: 1,
    });
    expect(await metricValues(registry, 'workqueue_retries_total')).toEqual({ test: 0 });
    // A new event (a spec change, a person asking) reconciles it again.
    c.enqueue('Deployment/web');
    await clock.advance(10);
    expect(calls).toHaveLength(2);
    await stop();
  });

  it('every line of a reconcile carries controller, kind, name and reconcileID, each once', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: { write: (l: string) => void lines.push(l) },
    });
    const clock = new FakeClock();
    const c = new Controller({
      name: 'widgets',
      clock,
      logger,
      reconciler: reconcilerFunc((ctx) => {
        ctx.log.info('inside');
        return Promise.resolve();
      }),
    });
    const ac = new AbortController();
    const running = c.start(ac.signal);
    c.enqueue('Widget/a');
    await flushMicrotasks();
    ac.abort();
    await running;
    const inside = lines.find((l) => l.includes('"inside"'));
    expect(inside).toBeDefined();
    expect(inside?.match(/"controller":/g)).toHaveLength(1);
    expect(JSON.parse(inside ?? '{}')).toMatchObject({ controller: 'widgets', kind: 'Widget', name: 'a' });
    expect(JSON.parse(inside ?? '{}')).toHaveProperty('reconcileID');
  });

  it('a non-Error throw is caught, counted as error and panic, and retried', async () => {
    const { clock, calls, c, registry, stop } = setup((_ctx, n) => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (n === 1) throw 'not an error';
    });
    c.enqueue('K/a');
    await clock.advance(100);
    expect(calls).toHaveLength(2);
    expect(await metricValues(registry, 'controller_runtime_reconcile_panics_total')).toEqual({ test: 1 });
    await stop();
  });

  it('honours requeueAfter (and resets backoff); requeue uses the rate limiter', async () => {
    const { clock, calls, c, registry, stop } = setup((_ctx, n) => {
      if (n === 1) throw new Error('first fails');
      if (n <= 3) return { requeueAfter: 60_000 };
      if (n === 4) return { requeue: true };
    });
    c.enqueue('K/a');
    await clock.advance(200_000);
    // The plain requeue is rate-limited from a count reset by requeueAfter: 5 ms.
    expect(calls.map((x) => x.at)).toEqual([0, 5, 60_005, 120_005, 120_010]);
    expect(await metricValues(registry, 'controller_runtime_reconcile_total')).toMatchObject({
      'test,error': 1,
      'test,requeue_after': 2,
      'test,requeue': 1,
      'test,success': 1,
    });
    await stop();
  });

  it('ignores requeueAfter carried by an error and backs off instead', async () => {
    const { clock, calls, c, stop } = setup((_ctx, n) => {
      if (n === 1) throw new OrunError('test.x', 'x', { context: { requeueAfter: 60_000 } });
    });
    c.enqueue('K/a');
    await clock.advance(10);
    expect(calls.map((x) => x.at)).toEqual([0, 5]);
    await stop();
  });

  it('never reconciles one key concurrently, even with several workers', async () => {
    let active = 0;
    let maxActive = 0;
    const { clock, c, calls, stop } = setup(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await clock.sleep(10);
      active--;
    }, 4);
    c.enqueue('K/a');
    await flushMicrotasks();
    c.enqueue('K/a');
    c.enqueue('K/a');
    await clock.advance(100);
    expect(maxActive).toBe(1);
    expect(calls).toHaveLength(2);
    await stop();
  });

  it('watches a store: spec changes enqueue, status-only writes do not', async () => {
    const store = new Store();
    const keys: string[] = [];
    const { clock, c, stop } = setup((ctx) => {
      keys.push(ctx.key);
    });
    const obj = (image: string) => ({
      apiVersion: 'v',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { image },
    });
    store.apply({ kinds: ['Deployment'], objects: [obj('a')] });
    c.watch(store, 'Deployment');
    await clock.advance(1);
    store.updateStatus('Deployment', 'web', () => ({ observedGeneration: 1 }));
    await clock.advance(1);
    store.apply({ kinds: ['Deployment'], objects: [obj('b')] });
    await clock.advance(1);
    store.apply({ kinds: ['Deployment'], objects: [] });
    await clock.advance(1);
    expect(keys).toEqual(['Deployment/web', 'Deployment/web', 'Deployment/web']);
    await stop();
  });

  it('on abort: aborts the reconcile signal, waits for in-flight work, drops queued keys', async () => {
    let sawAbort = false;
    const { clock, c, calls, stop } = setup(async (ctx) => {
      await clock.sleep(1000, ctx.signal);
      sawAbort = ctx.signal.aborted;
    });
    c.enqueue('K/a');
    c.enqueue('K/b');
    await flushMicrotasks();
    await stop();
    expect(sawAbort).toBe(true);
    expect(calls.map((x) => x.key)).toEqual(['K/a']);
    expect(clock.pendingTimers()).toBe(0);
  });
});
