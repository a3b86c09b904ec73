/**
 * Gives the V8 heap's spare pages back to the system once a burst of work is over. During a burst
 * (a commit of 50 Deployments) V8 grows the young generation up to 32 MiB and the old one past what
 * stays live, and an idle agent then allocates too little for the collections that would shrink
 * them again: the pages stay in its RSS for good. Every `intervalMs` (15 s), when the event loop was idle
 * through the interval and V8's heap has grown by `slackBytes` (3 MiB) since the last look that found
 * it idle and holds that much more than is live, one full collection
 * that reduces memory runs (V8's last-resort GC: it compacts, shrinks the young generation and
 * releases pooled pages), about 10–30 ms of CPU once after a burst and nothing while the agent
 * stays idle. BENCHMARKS.md (agent-idle) has what it buys.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '../clock/index.ts';
import type { Logger } from '../log/index.ts';
import type { Runnable } from './runnable.ts';

/** V8's heap: committed (`total_heap_size`) and live (`used_heap_size`) bytes. */
export interface HeapSample {
  committed: number;
  used: number;
}

export interface MemoryTrimOptions {
  clock: Clock;
  logger?: Logger;
  /** How often to look (default 15 s). */
  intervalMs?: number;
  /** Growth, and committed beyond live, that is worth a collection (default 3 MiB). */
  slackBytes?: number;
  /** Event-loop utilization (0–1) over the interval at or below which the agent counts as idle (default 0.02). */
  idleUtilization?: number;
  /** The heap now (default: node:v8). */
  heap?: () => HeapSample;
  /** Event-loop utilization since the previous call (default: node:perf_hooks). */
  utilization?: () => number;
  /** Runs the collection (default: V8's last-resort GC). */
  collect?: () => void;
}

/**
 * True when the last interval was idle, the heap has grown by `slackBytes` since `floor` (its
 * committed size after the last collection) and holds at least that much beyond what is live.
 */
export function shouldTrim(
  heap: HeapSample,
  floor: number,
  utilization: number,
  o: { slackBytes: number; idleUtilization: number },
): boolean {
  return (
    utilization <= o.idleUtilization &&
    heap.committed - floor >= o.slackBytes &&
    heap.committed - heap.used >= o.slackBytes
  );
}

/** The runnable that trims the heap after bursts; it stops when its signal aborts. */
export function memoryTrimRunnable(o: MemoryTrimOptions): Runnable {
  const intervalMs = o.intervalMs ?? 15_000;
  const limits = { slackBytes: o.slackBytes ?? 3 * 2 ** 20, idleUtilization: o.idleUtilization ?? 0.02 };
  const heap = o.heap ?? v8Heap;
  const utilization = o.utilization ?? eventLoopUtilization();
  return {
    name: 'memory-trim',
    start: async (signal) => {
      const collect = o.collect ?? lastResortCollection();
      utilization();
      let floor = heap().committed;
      while (!signal.aborted) {
        await o.clock.sleep(intervalMs, signal);
        if (signal.aborted) return;
        const before = heap();
        const idle = utilization();
        if (!shouldTrim(before, floor, idle, limits)) {
          // Idle at a smaller size (V8 shrank it itself): that is the new floor.
          if (idle <= limits.idleUtilization) floor = Math.min(floor, before.committed);
          continue;
        }
        collect();
        const after = heap();
        floor = after.committed;
        o.logger?.debug(
          { committedMiB: mib(before.committed), afterMiB: mib(after.committed), liveMiB: mib(after.used) },
          'heap trimmed after a burst',
        );
        utilization(); // the collection itself is not the next interval's work
      }
    },
  };
}

function v8Heap(): HeapSample {
  const s = getHeapStatistics();
  return { committed: s.total_heap_size, used: s.used_heap_size };
}

function eventLoopUtilization(): () => number {
  let last: EventLoopUtilization | undefined;
  return () => {
    const now = performance.eventLoopUtilization();
    const u = last === undefined ? now.utilization : performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

/**
 * V8's own `gc` function, which Node.js exposes only with --expose-gc at start: the flag also
 * applies to contexts made later, so a new context hands it over without a start-up flag (and the
 * agent's global object never gets a `gc`). The flag is turned off again at once: contexts and
 * worker threads made later (the manifest decode worker) get no `gc` either.
 */
function lastResortCollection(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: object) => void;
  setFlagsFromString('--no-expose-gc');
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}
