/**
 * The Node reconciler: writes this node's Node status (revision, last sync, GitSynced /
 * ManifestsValid / Ready, source errors), records the transitions as events, and hands the Node
 * to `onSpec`, which applies what can change in the Git source (branch, poll interval). Requeues
 * every `resyncMs`: Git failures do not write the store, so the status is refreshed on a timer.
 */
import { errorMessage } from '../../apis/errors.ts';
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Node, NodeStatus } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../../runtime/controller/index.ts';
import type { RecordEvent } from '../../runtime/events/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import {
  GIT_SYNCED,
  nodeStatus,
  RUNTIME_READY,
  STATE_SAVED,
  type AppliedView,
  type EngineView,
  type GitStatusView,
} from './status.ts';

export interface NodeReconcilerDeps {
  nodeName: string;
  store: Pick<Store, 'get' | 'updateStatus'>;
  /** GitSource.status() of the current source. */
  gitStatus: () => GitStatusView;
  /** The informer's last applied revision. */
  lastApplied: () => AppliedView | undefined;
  /** Whether the container engine answers (EngineHealth.status()). Default: no RuntimeReady condition. */
  engineStatus?: () => EngineView;
  /** Receives the Node every reconcile; applies live settings. Errors become a Warning event. */
  onSpec?: (node: Readonly<Node>) => void;
  recordEvent: RecordEvent;
  clock: Pick<Clock, 'now'>;
  /** Status refresh period. Default 5000 ms. */
  resyncMs?: number;
}

export class NodeReconciler implements Reconciler {
  readonly key: string;
  readonly #d: NodeReconcilerDeps;

  constructor(d: NodeReconcilerDeps) {
    this.#d = d;
    this.key = objectKey('Node', d.nodeName);
  }

  reconcile(ctx: ReconcileContext): Promise<ReconcileResult> {
    return Promise.resolve(this.#reconcile(ctx));
  }

  #reconcile(ctx: ReconcileContext): ReconcileResult {
    const d = this.#d;
    const resync = { requeueAfter: d.resyncMs ?? 5000 };
    if (ctx.key !== this.key) return resync;
    const node = d.store.get<Node>('Node', d.nodeName);
    if (!node) return resync;
    const name = node.metadata.name;
    try {
      d.onSpec?.(node as Readonly<Node>);
    } catch (err) {
      d.recordEvent(name, 'Warning', 'SettingsNotApplied', errorMessage(err));
    }
    const before = node.status?.conditions?.find((c) => c.type === GIT_SYNCED);
    const runtimeBefore = node.status?.conditions?.find((c) => c.type === RUNTIME_READY);
    const stateBefore = node.status?.conditions?.find((c) => c.type === STATE_SAVED);
    const updated = d.store.updateStatus<NodeStatus>('Node', d.nodeName, (old) =>
      nodeStatus(
        old as NodeStatus | undefined,
        d.gitStatus(),
        d.lastApplied(),
        node.metadata.generation,
        d.clock.now(),
        d.engineStatus?.(),
      ),
    );
    const status = updated.status as NodeStatus | undefined;
    const after = status?.conditions?.find((c) => c.type === GIT_SYNCED);
    if (after && after.status !== before?.status) {
      if (after.status === 'False') d.recordEvent(name, 'Warning', after.reason, after.message);
      else if (before?.status === 'False') d.recordEvent(name, 'Normal', 'GitSyncRecovered', after.message);
    }
    const saved = status?.conditions?.find((c) => c.type === STATE_SAVED);
    if (saved && saved.status !== stateBefore?.status)
      d.recordEvent(name, saved.status === 'False' ? 'Warning' : 'Normal', saved.reason, saved.message);
    const runtime = status?.conditions?.find((c) => c.type === RUNTIME_READY);
    if (runtime && runtimeBefore && runtime.status !== runtimeBefore.status) {
      if (runtime.status === 'False') d.recordEvent(name, 'Warning', runtime.reason, runtime.message);
      else if (runtimeBefore.status === 'False')
        d.recordEvent(name, 'Normal', runtime.reason, runtime.message);
    }
    const rev = status?.revision;
    if (rev !== undefined && rev !== node.status?.revision)
      d.recordEvent(name, 'Normal', 'RevisionApplied', `applied revision ${rev}`);
    ctx.log.debug({ revision: rev }, 'node status updated');
    return resync;
  }
}
