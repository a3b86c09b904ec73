/**
 * The Node controller: reconciles this node's own Node object. It writes the status (revision,
 * last sync, GitSynced / ManifestsValid / Ready, source errors) and hands the Node's spec and
 * labels to `onSpec`, which applies what can change live (branch, poll interval) to the source.
 * Triggered by store events for the Node, by every applied revision, and every `resyncMs`
 * (Git failures do not write the store, so the status is refreshed on a timer).
 */
import type { Observable, Subscription } from 'rxjs';
import { errorMessage } from '../../apis/errors.ts';
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Node, NodeStatus } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import { Controller, type ControllerOptions, type ReconcileContext } from '../../runtime/controller/index.ts';
import type { EventSink } from '../../runtime/events/index.ts';
import { silentLogger, type Logger } from '../../runtime/log/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import { GIT_SYNCED, nodeStatus, type AppliedView, type GitStatusView } from './status.ts';

export const NODE_CONTROLLER = 'node';

export interface NodeControllerOptions {
  nodeName: string;
  store: Pick<Store, 'get' | 'updateStatus' | 'watch'>;
  /** GitSource.status() of the current source. */
  gitStatus: () => GitStatusView;
  /** The informer's last applied revision. */
  lastApplied: () => AppliedView | undefined;
  /** Emits after each applied revision (GitInformer.applied$). */
  applied$?: Observable<unknown>;
  /** Receives the Node every reconcile; applies live settings. Errors become a Warning event. */
  onSpec?: (node: Readonly<Node>) => void;
  events: EventSink;
  clock: Clock;
  /** Status refresh period. Default 5000 ms. */
  resyncMs?: number;
  logger?: Logger;
  metrics?: ControllerOptions['metrics'];
}

export class NodeController {
  readonly name = NODE_CONTROLLER;
  readonly controller: Controller;
  readonly key: string;
  readonly #o: NodeControllerOptions;

  constructor(o: NodeControllerOptions) {
    this.#o = o;
    this.key = objectKey('Node', o.nodeName);
    this.controller = new Controller({
      name: NODE_CONTROLLER,
      reconciler: { reconcile: (ctx) => this.reconcile(ctx) },
      clock: o.clock,
      logger: o.logger ?? silentLogger(),
      ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
    });
    this.controller.watch(o.store, 'Node', (ev) =>
      ev.object.metadata.name === o.nodeName ? [this.key] : [],
    );
  }

  async start(signal: AbortSignal): Promise<void> {
    const sub: Subscription | undefined = this.#o.applied$?.subscribe(() =>
      this.controller.enqueue(this.key),
    );
    try {
      await this.controller.start(signal);
    } finally {
      sub?.unsubscribe();
    }
  }

  reconcile(ctx: ReconcileContext): Promise<{ requeueAfter: number }> {
    return Promise.resolve(this.#reconcile(ctx));
  }

  #reconcile(ctx: ReconcileContext): { requeueAfter: number } {
    const resync = { requeueAfter: this.#o.resyncMs ?? 5000 };
    if (ctx.key !== this.key) return resync;
    const node = this.#o.store.get<Node>('Node', this.#o.nodeName);
    if (!node) return resync;
    try {
      this.#o.onSpec?.(node as Readonly<Node>);
    } catch (err) {
      this.#o.events.event(node, 'Warning', 'SettingsNotApplied', errorMessage(err));
    }
    const git = this.#o.gitStatus();
    const before = node.status?.conditions?.find((c) => c.type === GIT_SYNCED);
    const updated = this.#o.store.updateStatus<NodeStatus>('Node', this.#o.nodeName, (old) =>
      nodeStatus(
        old as NodeStatus | undefined,
        git,
        this.#o.lastApplied(),
        node.metadata.generation,
        this.#o.clock.now(),
      ),
    );
    const after = (updated.status as NodeStatus | undefined)?.conditions?.find((c) => c.type === GIT_SYNCED);
    if (after && after.status !== before?.status) {
      if (after.status === 'False') this.#o.events.event(node, 'Warning', after.reason, after.message);
      else if (before?.status === 'False')
        this.#o.events.event(node, 'Normal', 'GitSyncRecovered', after.message);
    }
    const rev = (updated.status as NodeStatus | undefined)?.revision;
    if (rev !== undefined && rev !== node.status?.revision)
      this.#o.events.event(node, 'Normal', 'RevisionApplied', `applied revision ${rev}`);
    ctx.log.debug({ revision: rev }, 'node status updated');
    return resync;
  }
}
