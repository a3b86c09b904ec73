import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flushMicrotasks } from '../clock/index.ts';
import { WorkQueue } from './queue.ts';

type Op = { op: 'add'; key: string } | { op: 'get' } | { op: 'done'; pick: number } | { op: 'shutdown' };

const key = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: key.map((k) => ({ op: 'add' as const, key: k })) },
  { weight: 3, arbitrary: fc.constant({ op: 'get' as const }) },
  { weight: 3, arbitrary: fc.nat(10).map((n) => ({ op: 'done' as const, pick: n })) },
  { weight: 1, arbitrary: fc.constant({ op: 'shutdown' as const }) },
);

/** The contract, written as plainly as possible. */
class Model {
  queue: string[] = [];
  dirty = new Set<string>();
  processing = new Set<string>();
  down = false;
  add(k: string): void {
    if (this.down || this.dirty.has(k)) return;
    this.dirty.add(k);
    if (!this.processing.has(k)) this.queue.push(k);
  }
  get(): string | undefined {
    const k = this.queue.shift();
    // '' stands for "shut down": keys are never empty.
    if (k === undefined) return this.down ? '' : undefined;
    this.dirty.delete(k);
    this.processing.add(k);
    return k;
  }
  done(k: string): void {
    this.processing.delete(k);
    if (this.dirty.has(k)) this.queue.push(k);
  }
}

describe('WorkQueue properties', () => {
  it('matches the model on random add/get/done/shutdown sequences', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new WorkQueue();
        const m = new Model();
        const inFlight: string[] = [];
        for (const o of ops) {
          switch (o.op) {
            case 'add':
              q.add(o.key);
              m.add(o.key);
              break;
            case 'get': {
              const r = q.tryGet();
              const want = m.get();
              if (want === undefined) expect(r).toBeUndefined();
              else if (want === '') expect(r).toEqual({ shutdown: true });
              else {
                // Never concurrent: the item handed out is not already in flight.
                expect(inFlight).not.toContain(want);
                expect(r).toEqual({ item: want, shutdown: false });
                inFlight.push(want);
              }
              break;
            }
            case 'done': {
              if (inFlight.length === 0) break;
              const [k] = inFlight.splice(o.pick % inFlight.length, 1) as [string];
              q.done(k);
              m.done(k);
              break;
            }
            case 'shutdown':
              q.shutDown();
              m.down = true;
              break;
          }
          // Stingy: the queue never holds a key twice, and holds exactly what the model does.
          expect(q.len()).toBe(m.queue.length);
          expect(new Set(m.queue).size).toBe(m.queue.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('async workers never process one key concurrently and every add is eventually processed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(key, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (adds, workers) => {
          const q = new WorkQueue();
          const active = new Set<string>();
          const processedAfterLastAdd = new Set<string>();
          let violations = 0;
          const worker = async (): Promise<void> => {
            for (;;) {
              const r = await q.get();
              if (r.shutdown) return;
              if (active.has(r.item)) violations++;
              active.add(r.item);
              await flushMicrotasks();
              processedAfterLastAdd.add(r.item);
              active.delete(r.item);
              q.done(r.item);
            }
          };
          const running = Array.from({ length: workers }, () => worker());
          for (const k of adds) {
            processedAfterLastAdd.delete(k);
            q.add(k);
            if (k === 'a') await flushMicrotasks();
          }
          await q.shutDownWithDrain();
          q.shutDown();
          await Promise.all(running);
          expect(violations).toBe(0);
          for (const k of new Set(adds)) expect(processedAfterLastAdd.has(k)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
