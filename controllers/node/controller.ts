/**
 * The Node controller: reconciles this node's own Node object (see reconciler.ts). Triggered by
 * store events for the Node, by every applied revision, and every `resyncMs`.
 */
import type { Observable } from 'rxjs';
import type { Clock } from '../../runtime/clock/index.ts';
import { controllerFor, type Controller, type ControllerCommon } from '../../runtime/controller/index.ts';
import { recordEventFor, type EventSink } from '../../runtime/events/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import { NodeReconciler, type NodeReconcilerDeps } from './reconciler.ts';

export const NODE_CONTROLLER = 'node';

export interface NodeControllerOptions
  extends Omit<NodeReconcilerDeps, 'store' | 'recordEvent' | 'clock'>, ControllerCommon {
  store: Pick<Store, 'get' | 'updateStatus' | 'watch'>;
  /** Emits after each applied revision (GitInformer.applied$). */
  applied$?: Observable<unknown>;
  /** Emits when the engine goes away or comes back (EngineHealth.changed$): status at once. */
  engineChanged$?: Observable<unknown>;
  events: EventSink;
  clock: Clock;
}

export class NodeController {
  readonly name = NODE_CONTROLLER;
  readonly controller: Controller;
  readonly reconciler: NodeReconciler;
  readonly key: string;

  constructor(o: NodeControllerOptions) {
    this.reconciler = new NodeReconciler({ ...o, recordEvent: recordEventFor(o.events, 'Node') });
    this.key = this.reconciler.key;
    const builder = controllerFor(NODE_CONTROLLER, o).for(o.store, 'Node', {
      predicate: (ev) => !ev.statusOnly && ev.object.metadata.name === o.nodeName,
    });
    if (o.applied$ !== undefined) builder.watchesChannel(o.applied$, () => [this.key]);
    if (o.engineChanged$ !== undefined) builder.watchesChannel(o.engineChanged$, () => [this.key]);
    this.controller = builder.complete(this.reconciler);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }
}
