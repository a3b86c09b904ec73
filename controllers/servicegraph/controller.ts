/**
 * The ServiceGraph controller as one Runnable for the manager: the runtime Controller (workers
 * over a rate-limited queue) fed by
 *  1. store events for ServiceGraphs (status-only writes ignored: they are this controller's own);
 *  2. every applied revision (`revisions$`): an Orchfile can change without its ServiceGraph;
 *  3. executor state changes (the reconciler enqueues), so status follows the services;
 *  4. a startup sweep of graphs with run state or containers on this node, so one deleted from
 *     Git while orun was down is stopped.
 * On abort the workers drain, then every executor is detached: services keep running and the
 * next orun adopts them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Observable } from 'rxjs';
import { errorMessage } from '../../apis/errors.ts';
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import { controllerFor, type Controller, type ControllerCommon } from '../../runtime/controller/index.ts';
import { recordEventFor, type EventSink } from '../../runtime/events/index.ts';
import { silentLogger, type Logger } from '../../runtime/log/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { ServiceGraphDeps } from './deps.ts';
import { Label, nodeSelector } from './desired.ts';
import { ServiceGraphReconciler } from './reconciler.ts';

/** The controller's name: logs, the `controller` metric label, the event source. */
export const SERVICEGRAPH_CONTROLLER = 'servicegraph';

export interface ServiceGraphControllerOptions
  extends Omit<ServiceGraphDeps, 'store' | 'recordEvent' | 'enqueue'>, ControllerCommon {
  store: Pick<Store, 'getByKey' | 'updateStatus' | 'hasSynced' | 'watch' | 'list'>;
  /** e.g. `recorder.for('servicegraph-controller')`. */
  events: EventSink;
  /** Emits after every applied revision (the informer's `applied$`). Default: none. */
  revisions$?: Observable<unknown>;
  /** Emits when the engine goes away or answers again (EngineHealth `changed$`): every graph is looked at. */
  engineChanged$?: Observable<unknown>;
  /** Concurrent reconciles of different graphs. Default 2 (a graph's stop can wait TIMEOUT_STOP). */
  workers?: number;
  /** Waiting (readiness, restart delays, stop grace) and the queue's delays go through it. */
  clock: Clock;
  /** Default: silent. */
  logger?: Logger;
}

export class ServiceGraphController {
  readonly name = SERVICEGRAPH_CONTROLLER;
  readonly controller: Controller;
  readonly reconciler: ServiceGraphReconciler;
  readonly #o: ServiceGraphControllerOptions;
  readonly #log: Logger;

  constructor(o: ServiceGraphControllerOptions) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger()).child({ controller: SERVICEGRAPH_CONTROLLER });
    this.reconciler = new ServiceGraphReconciler({
      ...o,
      recordEvent: recordEventFor(o.events, 'ServiceGraph'),
      enqueue: (key) => this.controller.enqueue(key),
    });
    const builder = controllerFor(SERVICEGRAPH_CONTROLLER, o).for(o.store, 'ServiceGraph');
    const all = (): string[] =>
      o.store.list('ServiceGraph').map((sg) => objectKey('ServiceGraph', sg.metadata.name));
    // An Orchfile can change without its ServiceGraph: every applied revision re-reconciles all.
    if (o.revisions$ !== undefined) builder.watchesChannel(o.revisions$, all);
    // The engine's outage and return show in every graph's status at once.
    if (o.engineChanged$ !== undefined) builder.watchesChannel(o.engineChanged$, all);
    this.controller = builder
      // Stopping a graph waits for its services' TIMEOUT_STOP (10 s each by default).
      .withOptions({ workers: o.workers ?? 2, drainTimeoutMs: 120_000 })
      .complete(this.reconciler);
  }

  /** Runs until `signal` aborts; then detaches every graph (services keep running). */
  async start(signal: AbortSignal): Promise<void> {
    try {
      await this.#sweep();
      await this.controller.start(signal);
    } finally {
      await this.reconciler.detachAll();
      this.#log.info('ServiceGraph services left running; the next start adopts them');
    }
  }

  /**
   * A person asked (`orunctl reconcile sg/NAME`): the graph is applied again and its ONESHOT
   * services run again, whatever their ready markers say.
   */
  requestReconcile(name: string): void {
    this.reconciler.rerunOneshots(name);
    this.controller.enqueue(objectKey('ServiceGraph', name));
  }

  /** Enqueues graphs that left state or containers on this node (deleted ones get cleaned up). */
  async #sweep(): Promise<void> {
    const names = new Set<string>();
    try {
      for (const d of readdirSync(join(this.#o.dataDir, 'servicegraphs'))) names.add(d);
    } catch {
      // No graph ever ran here.
    }
    try {
      for (const c of await this.#o.engine.listContainers(nodeSelector(this.#o.nodeName))) {
        const n = c.labels[Label.servicegraph];
        if (n !== undefined) names.add(n);
      }
    } catch (err) {
      this.#log.warn(
        { err: errorMessage(err) },
        'listing ServiceGraph containers failed; sweep uses run state only',
      );
    }
    for (const n of names) this.controller.enqueue(objectKey('ServiceGraph', n));
  }
}

/** `new ServiceGraphController(options)`; add it to the manager's `controllers` group. */
export function newServiceGraphController(o: ServiceGraphControllerOptions): ServiceGraphController {
  return new ServiceGraphController(o);
}
