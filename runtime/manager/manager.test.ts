import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/index.ts';
import { isOrunError } from '../../apis/errors.ts';
import { newRegistry, RuntimeMetrics } from '../metrics/index.ts';
import { WorkQueue } from '../workqueue/index.ts';
import { Manager } from './manager.ts';
import type { SyncingRunnable } from './runnable.ts';
import { installSignalHandlers, onStopSignals, type SignalProcess } from './signals.ts';

function untilAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function tracked(name: string, log: string[], extra: Partial<SyncingRunnable> = {}): SyncingRunnable {
  return {
    name,
    async start(signal) {
      log.push(`start ${name}`);
      await untilAbort(signal);
      log.push(`stop ${name}`);
    },
    ...extra,
  };
}

describe('Manager', () => {
  it('starts servers, then sources once synced, then controllers; stops in reverse', async () => {
    const log: string[] = [];
    let synced = false;
    const clock = new FakeClock();
    const m = new Manager({ clock, syncPollMs: 1 });
    m.addController(tracked('ctrl', log));
    m.addSource(tracked('git', log, { hasSynced: () => synced }));
    m.addServer(tracked('http', log));
    const ac = new AbortController();
    const run = m.start(ac.signal);
    await clock.advance(20);
    expect(log).toEqual(['start http', 'start git']);
    synced = true;
    await clock.advance(20);
    expect(log).toEqual(['start http', 'start git', 'start ctrl']);
    ac.abort();
    await run;
    expect(log.slice(3)).toEqual(['stop ctrl', 'stop git', 'stop http']);
  });

  it('a failing runnable stops everything and start rejects with manager.runnable_failed', async () => {
    const log: string[] = [];
    const m = new Manager();
    m.addServer(tracked('http', log));
    m.addController({
      name: 'bad',
      start: () => Promise.reject(new Error('boom')),
    });
    const err: unknown = await m.start(new AbortController().signal).catch((e: unknown) => e);
    expect(isOrunError(err, 'manager.runnable_failed')).toBe(true);
    expect(log).toEqual(['start http', 'stop http']);
  });

  it('gives up on a runnable that ignores abort after the grace period', async () => {
    const clock = new FakeClock();
    const m = new Manager({ clock, gracePeriodMs: 20 });
    m.addController({ name: 'stuck', start: () => new Promise<void>(() => {}) });
    const ac = new AbortController();
    // The rejection is handled from the start: it may come while the clock is being advanced.
    const run = m.start(ac.signal).catch((e: unknown) => e);
    ac.abort();
    await clock.advance(20);
    const err: unknown = await run;
    expect(isOrunError(err, 'manager.shutdown_timeout')).toBe(true);
    expect((err as Error).message).toContain('stuck');
  });

  it('serves /healthz, /readyz (controller-runtime format) and /metrics', async () => {
    const registry = newRegistry();
    const q = new WorkQueue({ name: 'deployment', metrics: new RuntimeMetrics(registry) });
    q.add('Deployment/web');
    const m = new Manager();
    let gitReady = false;
    m.addReadyCheck('git', () => {
      if (!gitReady) throw new Error('no commit fetched yet');
    });
    m.addHealthCheck('ping', () => {});
    const server = m.serveProbes('127.0.0.1:0', registry);
    const ac = new AbortController();
    const run = m.start(ac.signal);
    await server.synced;
    const base = `http://127.0.0.1:${server.address()?.port}`;
    const get = async (path: string) => {
      const res = await fetch(base + path);
      return [res.status, await res.text()] as const;
    };
    // The manager is ready once every group started (no fixed wait).
    await vi.waitFor(async () => expect(await get('/readyz?exclude=git')).toEqual([200, 'ok']));
    expect(await get('/healthz')).toEqual([200, 'ok']);
    expect(await get('/healthz?verbose')).toEqual([200, '[+]ping ok\nhealthz check passed\n']);
    expect(await get('/readyz')).toEqual([
      500,
      '[-]git failed: no commit fetched yet\n[+]manager ok\nreadyz check failed\n',
    ]);
    expect(await get('/readyz?exclude=git')).toEqual([200, 'ok']);
    expect(await get('/readyz/git')).toEqual([500, 'internal server error: no commit fetched yet\n']);
    gitReady = true;
    expect(await get('/readyz')).toEqual([200, 'ok']);
    const [status, metrics] = await get('/metrics');
    expect(status).toBe(200);
    expect(metrics).toContain('workqueue_depth{name="deployment"} 1');
    expect(metrics).toContain('workqueue_adds_total{name="deployment"} 1');
    expect((await get('/nope'))[0]).toBe(404);
    ac.abort();
    await run;
    q.shutDown();
  });

  it('reconcileNow goes to the controller registered for the kind; false for others', () => {
    const m = new Manager();
    const seen: string[] = [];
    m.handleReconcile('Deployment', (name) => (seen.push(name), true));
    expect(m.reconcileNow('Deployment', 'web')).toBe(true);
    expect(m.reconcileNow('Service', 'web')).toBe(false);
    expect(seen).toEqual(['web']);
  });

  it('installSignalHandlers: first signal aborts, second exits', () => {
    const emitter = new EventEmitter();
    const exits: number[] = [];
    const proc: SignalProcess = {
      on: (e, fn) => emitter.on(e, fn),
      off: (e, fn) => emitter.off(e, fn),
      exit: ((code: number) => {
        exits.push(code);
      }) as (code: number) => never,
    };
    const { signal, dispose } = installSignalHandlers(proc);
    emitter.emit('SIGTERM');
    expect(signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    emitter.emit('SIGINT');
    expect(exits).toEqual([1]);
    dispose();
    expect(emitter.listenerCount('SIGTERM')).toBe(0);
  });

  it('installSignalHandlers options: only the named signals, the second exits with exitCode', () => {
    const emitter = new EventEmitter();
    const exits: number[] = [];
    const proc: SignalProcess = {
      on: (e, fn) => emitter.on(e, fn),
      off: (e, fn) => emitter.off(e, fn),
      exit: ((code: number) => {
        exits.push(code);
      }) as (code: number) => never,
    };
    const { signal, dispose } = installSignalHandlers(proc, undefined, {
      signals: ['SIGINT'],
      exitCode: 130,
    });
    expect(emitter.listenerCount('SIGTERM')).toBe(0);
    emitter.emit('SIGINT');
    expect(signal.aborted).toBe(true);
    emitter.emit('SIGINT');
    expect(exits).toEqual([130]);
    dispose();
    expect(emitter.listenerCount('SIGINT')).toBe(0);
  });

  it('onStopSignals counts every stop signal until disposed', () => {
    const emitter = new EventEmitter();
    const seen: string[] = [];
    const proc = {
      on: (e: string, fn: () => void) => emitter.on(e, fn),
      off: (e: string, fn: () => void) => emitter.off(e, fn),
      exit: () => undefined as never,
    };
    const off = onStopSignals((name, count) => seen.push(`${name} ${count}`), proc);
    emitter.emit('SIGTERM');
    emitter.emit('SIGINT');
    off();
    emitter.emit('SIGINT');
    expect(seen).toEqual(['SIGTERM 1', 'SIGINT 2']);
  });
});
