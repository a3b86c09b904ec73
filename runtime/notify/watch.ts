/**
 * The notifier's source: store changes of Deployments, ServiceGraphs and this node's Node,
 * classified (classify.ts) against the previous status seen. Objects present when it starts are
 * remembered, not announced.
 */
import type { Observable } from 'rxjs';
import type { StoreEvent } from '../store/index.ts';
import { classify, type StatusView } from './classify.ts';
import type { Notifier } from './notifier.ts';

export interface NotifyWatchOptions {
  store: { watch(opts?: { kinds?: readonly string[] }): Observable<StoreEvent> };
  notifier: Notifier;
  nodeName: string;
}

export function notificationsRunnable(o: NotifyWatchOptions): {
  name: string;
  start(signal: AbortSignal): Promise<void>;
} {
  return {
    name: 'notifier',
    start: async (signal) => {
      o.notifier.bind(signal);
      const seen = new Map<string, StatusView>();
      const sub = o.store.watch({ kinds: ['Deployment', 'ServiceGraph', 'Node'] }).subscribe((ev) => {
        const obj = ev.object;
        if (obj.kind === 'Node' && obj.metadata.name !== o.nodeName) return;
        const key = `${obj.kind}/${obj.metadata.name}`;
        if (ev.type === 'DELETED') {
          seen.delete(key);
          return;
        }
        const status = obj.status;
        const view: StatusView = {
          kind: obj.kind,
          name: obj.metadata.name,
          ...(obj.metadata.generation === undefined ? {} : { generation: obj.metadata.generation }),
          ...(status?.observedGeneration === undefined
            ? {}
            : { observedGeneration: status.observedGeneration }),
          conditions: status?.conditions ?? [],
        };
        for (const n of classify(seen.get(key), view)) o.notifier.notify(n);
        seen.set(key, view);
      });
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
      );
      sub.unsubscribe();
    },
  };
}
