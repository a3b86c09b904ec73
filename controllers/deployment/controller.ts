/**
 * The Deployment controller as one Runnable for the manager: the runtime Controller (workers over
 * a rate-limited queue) fed by three sources of keys:
 *  1. store events for kind Deployment (status-only writes ignored);
 *  2. engine events of managed containers (a `die` is reconciled at once, not at the next resync);
 *  3. a startup sweep of Deployments that own containers (those deleted while orun was down get
 *     pruned; reconcile itself refuses to prune until the store has synced);
 *  4. a change of the Node's `codeDir` (every Deployment: their build contexts moved).
 */
import type { Observable } from 'rxjs';
import { errorMessage } from '../../apis/errors.ts';
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import { controllerFor, type Controller, type ControllerCommon } from '../../runtime/controller/index.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import { recordEventFor, type EventSink } from '../../runtime/events/index.ts';
import { silentLogger, type Logger } from '../../runtime/log/index.ts';
import type { Store, StoreEvent } from '../../runtime/store/index.ts';
import type { DeploymentDeps, DeploymentEngine } from './deps.ts';
import { managedDeploymentKeys, watchContainerEvents } from './engine-events.ts';
import { DeploymentReconciler } from './reconciler.ts';
import { deploymentStoreOf } from './store-adapter.ts';

/** The controller's name: logs, the `controller` metric label, the event source. */
export const DEPLOYMENT_CONTROLLER = 'deployment';

/** Pause before re-opening the engine event stream after it ended (engine restart, outage). */
const EVENT_WATCH_RETRY_MS = 5_000;

export interface DeploymentControllerOptions
  extends Omit<DeploymentDeps, 'engine' | 'store' | 'recordEvent' | 'hasSynced' | 'clock'>, ControllerCommon {
  engine: DeploymentEngine & Pick<ContainerEngine, 'events'>;
  store: Pick<Store, 'getByKey' | 'updateStatus' | 'hasSynced' | 'watch' | 'list'>;
  /** e.g. `recorder.for('deployment-controller')`. */
  events: EventSink;
  /** Needs timers (the queue's delays). */
  clock: Clock;
  /**
   * Concurrent reconciles of different Deployments. Default 4, chosen from the engine's measured
   * throughput for this controller's create + start (`bench/agent-converge.ts`, 2-core machine):
   * each start takes about proportionally longer the more are in flight (the engine serializes
   * most of a start), 16 in flight is slower, and 8 workers converged 50 no faster than 4
   * (`bench/agent-converge-profile.ts`) while doubling every other call's latency.
   */
  workers?: number;
  /**
   * Emits when the root secrets.yaml's values changed (or became available or unavailable):
   * every Deployment is reconciled, and those whose secrets' HMACs changed roll. Default: none.
   */
  secretsChanged$?: Observable<unknown>;
  /**
   * Emits when the engine goes away or answers again (EngineHealth.changed$): every Deployment
   * is reconciled at once (its status says EngineUnavailable, then it converges again) instead
   * of at its next resync, which is minutes for a settled one. Default: none.
   */
  engineChanged$?: Observable<unknown>;
}

export class DeploymentController {
  readonly name = DEPLOYMENT_CONTROLLER;
  readonly controller: Controller;
  readonly reconciler: DeploymentReconciler;
  readonly #o: DeploymentControllerOptions;
  readonly #log: Logger;

  constructor(o: DeploymentControllerOptions) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger()).child({ controller: DEPLOYMENT_CONTROLLER });
    this.reconciler = new DeploymentReconciler({
      ...o,
      store: deploymentStoreOf(o.store),
      recordEvent: recordEventFor(o.events, 'Deployment'),
      hasSynced: () => o.store.hasSynced(),
    });
    const all = (): string[] => o.store.list('Deployment').map((d) => deploymentKey(d.metadata.name));
    const builder = controllerFor(DEPLOYMENT_CONTROLLER, o)
      .for(o.store, 'Deployment')
      // Build contexts resolve under the Node's codeDir (read at reconcile): a change rebuilds.
      .watches(o.store, 'Node', { map: all, predicate: codeDirChanged })
      .withOptions({ workers: o.workers ?? 4 });
    // Root secrets changed: every Deployment is reconciled; those whose secrets' HMACs changed roll.
    if (o.secretsChanged$ !== undefined) builder.watchesChannel(o.secretsChanged$, all);
    if (o.engineChanged$ !== undefined) builder.watchesChannel(o.engineChanged$, all);
    this.controller = builder.complete(this.reconciler);
  }

  /** `orunctl reconcile deploy NAME`: reconcile now, a stalled Deployment included (see retryNow). */
  requestReconcile(name: string): void {
    this.reconciler.retryNow(deploymentKey(name));
    this.controller.enqueue(deploymentKey(name));
  }

  /** Runs until `signal` aborts. Leaves every container running. */
  async start(signal: AbortSignal): Promise<void> {
    const watching = this.#watchEngine(signal);
    await this.#sweep();
    await this.controller.start(signal);
    await watching;
  }

  /** Enqueues every Deployment that owns a container, so orphans get pruned. */
  async #sweep(): Promise<void> {
    try {
      for (const key of await managedDeploymentKeys(this.#o.engine, this.#o.nodeName))
        this.controller.enqueue(key);
    } catch (err) {
      // Not fatal: the engine may be down; containers of live Deployments are reached via the store.
      this.#log.warn({ err: errorMessage(err) }, 'listing managed containers failed; orphan sweep skipped');
    }
  }

  /** Engine events → keys, re-opened after the stream ends, until `signal` aborts. */
  async #watchEngine(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await watchContainerEvents(
          this.#o.engine,
          signal,
          (key) => this.controller.enqueue(key),
          this.#o.nodeName,
          // The start of a container a reconcile started itself (and then looked at) changes nothing.
          (e) => e.action === 'start' && this.reconciler.startedItself(e.id),
        );
      } catch (err) {
        this.#log.warn({ err: errorMessage(err) }, 'container event stream ended; reopening');
      }
      if (signal.aborted) break;
      await this.#o.clock.sleep(EVENT_WATCH_RETRY_MS, signal);
      await this.#sweep(); // events may have been missed while the stream was down
    }
  }
}

/** `new DeploymentController(options)`; add it to the manager's `controllers` group. */
export function newDeploymentController(o: DeploymentControllerOptions): DeploymentController {
  return new DeploymentController(o);
}

/** The Node's codeDir changed (not on its first appearance: the Deployments' own ADDED cover that). */
function codeDirChanged(ev: StoreEvent): boolean {
  const codeDir = (o: StoreEvent['object'] | undefined): unknown =>
    (o as { spec?: { codeDir?: string } } | undefined)?.spec?.codeDir;
  return ev.type === 'MODIFIED' && codeDir(ev.oldObject) !== codeDir(ev.object);
}

/** The key of a Deployment by name. */
export function deploymentKey(name: string): string {
  return objectKey('Deployment', name);
}
