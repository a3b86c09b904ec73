/**
 * The local API's view of suspension: wraps an ApiBackend so every object it hands out carries
 * `status.suspended: true` and `status.suspendedBy` while suspended (orunctl `get` shows
 * `Suspended`, `describe` the two fields), a watch sees a MODIFIED when that changes, and
 * `suspend`/`resume` go to the SuspendState. The store itself is never written: suspension is
 * the node's operational state, not part of an object's reconciled status.
 */
import { EMPTY, filter, from, map, merge, mergeMap, takeUntil, fromEvent, type Observable } from 'rxjs';
import { objectKey, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ApiBackend } from '../api/backend.ts';
import { EVERYTHING } from '../api/selector.ts';
import type { WatchEvent } from '../api/types.ts';
import { annotatedSuspended, type SuspendState } from './state.ts';

export interface SuspendBackendOptions {
  state: SuspendState;
  /** This agent's node name (`orunctl suspend node` targets it). */
  nodeName: string;
  /** This node's current Node object (its annotation suspends everything). */
  node: () => Pick<ApiObject, 'metadata'> | undefined;
}

export function withSuspension(inner: ApiBackend, o: SuspendBackendOptions): ApiBackend {
  const decorate = (obj: ApiObject): ApiObject => {
    const by =
      obj.kind === 'Node'
        ? o.state.node
          ? 'orunctl'
          : annotatedSuspended(obj)
            ? 'annotation'
            : undefined
        : o.state.suspendedBy(objectKey(obj.kind, obj.metadata.name), obj, o.node());
    if (by === undefined) return obj;
    return {
      ...obj,
      status: { ...(obj.status ?? {}), suspended: true, suspendedBy: by } as ApiObject['status'],
    };
  };
  return {
    ...inner,
    list: async (kind, selector) => (await inner.list(kind, selector)).map(decorate),
    get: async (kind, name) => {
      const obj = await inner.get(kind, name);
      return obj === undefined ? undefined : decorate(obj);
    },
    watch: (kind, signal) => {
      const live = from(inner.watch(kind, signal)).pipe(
        map((e): WatchEvent => ({ ...e, object: decorate(e.object) })),
      );
      // A suspend or resume changes what a watcher sees without a store write.
      const flips: Observable<WatchEvent> = o.state.changes$.pipe(
        takeUntil(fromEvent(signal, 'abort')),
        mergeMap((c) => {
          const affected = async (): Promise<readonly ApiObject[]> => {
            if (c.key === undefined)
              return kind === 'Node' ? affectedNode(inner, o.nodeName) : inner.list(kind, EVERYTHING);
            const [k, ...rest] = c.key.split('/');
            if (k !== kind) return [];
            const obj = await inner.get(kind, rest.join('/'));
            return obj === undefined ? [] : [obj];
          };
          return from(affected()).pipe(mergeMap((objs) => (objs.length === 0 ? EMPTY : from(objs))));
        }),
        filter((obj) => obj !== undefined),
        map((obj): WatchEvent => ({ type: 'MODIFIED', object: decorate(obj) })),
      );
      return merge(live, flips);
    },
    suspend: async (kind, name, suspended) => {
      if (kind === 'Node') {
        if (name !== o.nodeName) return false;
      } else if (
        (await inner.get(kind, name)) === undefined &&
        !o.state.objects().includes(objectKey(kind, name))
      )
        return false;
      await o.state.set(kind, name, suspended);
      return true;
    },
  };
}

async function affectedNode(inner: ApiBackend, nodeName: string): Promise<readonly ApiObject[]> {
  const n = await inner.get('Node', nodeName);
  return n === undefined ? [] : [n];
}
