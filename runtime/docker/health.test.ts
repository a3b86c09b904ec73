import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/index.ts';
import { FakeEngine } from './fake.ts';
import { EngineHealth, monitorEngine, type EngineHealthView } from './health.ts';

function setup() {
  const clock = new FakeClock();
  const engine = new FakeEngine({ now: () => clock.now(), images: ['img:1'] });
  const health = new EngineHealth({ ping: () => engine.ping(), clock });
  const changes: EngineHealthView[] = [];
  const recovered: EngineHealthView[] = [];
  health.changed$.subscribe((v) => changes.push(v));
  health.recovered$.subscribe((v) => recovered.push(v));
  const ac = new AbortController();
  const running = health.start(ac.signal);
  const stop = async (): Promise<void> => {
    ac.abort();
    await running;
  };
  return { clock, engine, health, changes, recovered, stop, monitored: monitorEngine(engine, health) };
}

describe('EngineHealth', () => {
  it('sees an outage by its own ping, fails the readyz check, and sees the return within a second', async () => {
    const { clock, engine, health, changes, recovered, stop } = setup();
    await flushMicrotasks();
    expect(health.status().available).toBe(true);
    expect(changes).toEqual([]); // the first answer is not a change
    expect(() => health.check()).not.toThrow();

    engine.setDown(true);
    await clock.advance(10_000);
    expect(health.status().available).toBe(false);
    expect(health.status().message).toMatch(/ping/);
    expect(() => health.check()).toThrow(/container engine unavailable/);

    engine.setDown(false);
    await clock.advance(1_000);
    expect(health.status().available).toBe(true);
    expect(changes.map((c) => c.available)).toEqual([false, true]);
    expect(recovered).toHaveLength(1);
    await stop();
  });

  it('a monitored call that cannot reach the engine asks for a ping at once; one that answers marks it up', async () => {
    const { clock, engine, health, monitored, changes, stop } = setup();
    await flushMicrotasks();
    engine.setDown(true);
    await expect(monitored.listContainers({})).rejects.toMatchObject({ code: 'DockerUnavailable' });
    await clock.advance(0);
    expect(health.status().available).toBe(false); // confirmed by a ping, not 10 s later

    engine.setDown(false);
    expect(await monitored.listContainers({})).toEqual([]);
    expect(health.status().available).toBe(true);
    expect(changes.map((c) => c.available)).toEqual([false, true]);
    await stop();
  });

  it('other failures (an unknown container) say nothing about the engine', async () => {
    const { clock, health, monitored, changes, stop } = setup();
    await flushMicrotasks();
    await expect(monitored.startContainer('nope')).rejects.toMatchObject({ code: 'ContainerNotFound' });
    await clock.advance(0);
    expect(health.status().available).toBe(true);
    expect(changes).toEqual([]);
    await stop();
  });

  it('an abort while a ping is in flight ends start() when the ping returns, without waiting out the interval', async () => {
    const clock = new FakeClock();
    let answer!: () => void;
    const health = new EngineHealth({ ping: () => new Promise<void>((r) => (answer = r)), clock });
    const ac = new AbortController();
    let ended = false;
    const running = health.start(ac.signal).then(() => (ended = true));
    await flushMicrotasks();
    ac.abort();
    answer();
    await flushMicrotasks();
    expect(ended).toBe(true);
    await running;
  });
});
