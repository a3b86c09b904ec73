/**
 * The Service controller as one Runnable for the manager: the runtime Controller with a single
 * worker over the single key `Ingress/caddy`, fed by
 *  1. store events for Services (status-only writes ignored: they are this controller's own);
 *  2. store events for Deployments, including the status writes that change what routing needs
 *     (ready, published ports) but not the probe-timestamp churn;
 *  3. store events for the Node (its spec names the tracked branch, read at every reconcile);
 *  4. Caddy (re)starts (`onReady`): the config is loaded again;
 *  5. one key at start, so Caddy serves the empty table (404s, ACME challenges) from boot.
 */
import type { Deployment } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import { controllerFor, type Controller, type ControllerCommon } from '../../runtime/controller/index.ts';
import { recordEventFor, type EventSink } from '../../runtime/events/index.ts';
import type { DeepReadonly, Store, StoreEvent } from '../../runtime/store/index.ts';
import type { IngressCaddy, ServiceReconcilerDeps } from './deps.ts';
import { INGRESS_KEY, IngressReconciler } from './reconciler.ts';

/** The controller's name: logs, the `controller` metric label, the event source. */
export const SERVICE_CONTROLLER = 'service';

export interface ServiceControllerOptions
  extends Omit<ServiceReconcilerDeps, 'store' | 'recordEvent' | 'clock' | 'caddy'>, ControllerCommon {
  store: Pick<Store, 'list' | 'updateStatus' | 'watch'>;
  /** The CaddySupervisor (or a fake). With `onReady`, a Caddy restart makes the config load again. */
  caddy: IngressCaddy & { onReady?(listener: () => void): () => void };
  /** e.g. `recorder.for('service-controller')`. */
  events: EventSink;
  /** Needs timers (the queue's delays). */
  clock: Clock;
}

export class ServiceController {
  readonly name = SERVICE_CONTROLLER;
  readonly controller: Controller;
  readonly reconciler: IngressReconciler;
  readonly #caddy: ServiceControllerOptions['caddy'];

  constructor(o: ServiceControllerOptions) {
    this.#caddy = o.caddy;
    this.reconciler = new IngressReconciler({ ...o, recordEvent: recordEventFor(o.events, 'Service') });
    const toIngress = (): readonly string[] => [INGRESS_KEY];
    this.controller = controllerFor(SERVICE_CONTROLLER, o)
      .watches(o.store, 'Service', toIngress)
      .watches(o.store, 'Deployment', { map: toIngress, predicate: routingChanged })
      // The Node's spec says which branch the node tracks: the domains follow it.
      .watches(o.store, 'Node', toIngress)
      // One document, one key: one worker is all there can be.
      .withOptions({ workers: 1 })
      .complete(this.reconciler);
  }

  /** Runs until `signal` aborts. Caddy keeps serving the last config (its supervisor stops it). */
  async start(signal: AbortSignal): Promise<void> {
    const off = this.#caddy.onReady?.(() => {
      this.reconciler.forgetApplied();
      this.controller.enqueue(INGRESS_KEY);
    });
    this.controller.enqueue(INGRESS_KEY);
    try {
      await this.controller.start(signal);
    } finally {
      off?.();
    }
  }
}

/** Spec changes, adds and deletes; of status writes only those that change readiness, the serving IP or published ports. */
export function routingChanged(ev: StoreEvent): boolean {
  if (!ev.statusOnly) return true;
  const facts = (o: StoreEvent['object'] | undefined): string => {
    const s = (o as DeepReadonly<Deployment> | undefined)?.status;
    return JSON.stringify([s?.ready ?? false, s?.ip ?? '', s?.ports ?? []]);
  };
  return facts(ev.oldObject) !== facts(ev.object);
}

/** `new ServiceController(options)`; add it to the manager's `controllers` group. */
export function newServiceController(o: ServiceControllerOptions): ServiceController {
  return new ServiceController(o);
}
