/**
 * Builds a Controller the way controller-runtime's builder does
 * (`ControllerManagedBy(mgr).For(...).Watches(...).Complete(r)`): one place for the wiring every
 * controller repeats (name, clock, logger, metrics, workers, what to watch).
 *
 * @example
 * const controller = controllerFor('deployment', { clock, logger, controllerMetrics })
 *   .for(store, 'Deployment')
 *   .watches(store, 'Node', { map: () => allDeploymentKeys(), predicate: codeDirChanged })
 *   .withOptions({ workers: 4 })
 *   .complete(reconciler);
 */
import type { Observable } from 'rxjs';
import type { Clock } from '../clock/index.ts';
import type { Logger } from '../log/index.ts';
import {
  Controller,
  type ControllerOptions,
  type ControllerWatchOptions,
  type MapFunc,
  type WatchSource,
} from './controller.ts';
import type { Reconciler } from './reconcile.ts';

/** What every controller is given by the agent. */
export interface ControllerCommon {
  /** Needs timers (the queue's delays). Default: the real clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
  /** Queue and controller metrics (usually the runtime's RuntimeMetrics). Default: none. */
  controllerMetrics?: ControllerOptions['metrics'];
}

export class ControllerBuilder {
  readonly #name: string;
  readonly #common: ControllerCommon;
  readonly #watches: [WatchSource, string, MapFunc | ControllerWatchOptions | undefined][] = [];
  readonly #channels: [Observable<unknown>, () => readonly string[]][] = [];
  #options: Pick<ControllerOptions, 'workers' | 'drainTimeoutMs' | 'gate'> = {};

  constructor(name: string, common: ControllerCommon) {
    this.#name = name;
    this.#common = common;
  }

  /** The kind this controller reconciles: its events enqueue the object's own key. */
  for(source: WatchSource, kind: string, opts?: Omit<ControllerWatchOptions, 'map'>): this {
    this.#watches.push([source, kind, opts]);
    return this;
  }

  /** Another kind whose events enqueue the keys `map` returns. */
  watches(source: WatchSource, kind: string, mapOrOpts: MapFunc | ControllerWatchOptions): this {
    this.#watches.push([source, kind, mapOrOpts]);
    return this;
  }

  /** Anything that emits (e.g. the informer's applied revisions): each emission enqueues `keys()`. */
  watchesChannel(channel: Observable<unknown>, keys: () => readonly string[]): this {
    this.#channels.push([channel, keys]);
    return this;
  }

  /** Workers (default 1), drain timeout (default 30 000 ms), gate (default none). */
  withOptions(options: Pick<ControllerOptions, 'workers' | 'drainTimeoutMs' | 'gate'>): this {
    this.#options = { ...this.#options, ...options };
    return this;
  }

  complete(reconciler: Reconciler): Controller {
    const c = this.#common;
    const controller = new Controller({
      name: this.#name,
      reconciler,
      ...this.#options,
      ...(c.clock === undefined ? {} : { clock: c.clock }),
      ...(c.logger === undefined ? {} : { logger: c.logger }),
      ...(c.controllerMetrics === undefined ? {} : { metrics: c.controllerMetrics }),
    });
    for (const [source, kind, opts] of this.#watches) controller.watch(source, kind, opts);
    for (const [channel, keys] of this.#channels) controller.watchChannel(channel, keys);
    return controller;
  }
}

/** Starts building the controller `name` (its logs, metric label and work queue name). */
export function controllerFor(name: string, common: ControllerCommon): ControllerBuilder {
  return new ControllerBuilder(name, common);
}
