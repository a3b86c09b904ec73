/**
 * The local API's backend (ApiBackend) over an agent's parts: the store for objects, the event
 * recorder for events (watch de-duplicated: a repeat is MODIFIED), and callbacks for what only
 * the agent knows (reconcile now, poll Git now, a Deployment's container logs).
 */
import { concat, defer, filter, from, fromEvent, map, takeUntil, type Observable } from 'rxjs';
import type { ApiObject, KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { EventRecord as RecordedEvent, EventRecorder } from '../events/index.ts';
import type { Store } from '../store/index.ts';
import type { ApiBackend, EventFilter } from './backend.ts';
import type { EventRecord, LogOptions, VersionInfo, WatchEvent } from './types.ts';

export interface StoreBackendParts {
  version: string;
  nodeName: string;
  store: Store;
  recorder: EventRecorder;
  /** Polls Git now. */
  syncSource: () => void;
  /** Enqueues `Kind/name` in its controller (Manager.reconcileNow); false when none handles the kind. */
  enqueue: (kind: KindName, name: string) => boolean;
  /** The log lines of Deployment `name`'s container, or of ServiceGraph `name`'s services. */
  logs: ApiBackend['logs'];
}

function until<T>(source: Observable<T>, signal: AbortSignal): Observable<T> {
  return source.pipe(takeUntil(fromEvent(signal, 'abort')));
}

function toApiEvent(r: RecordedEvent): EventRecord {
  const { type, reason, message, count, firstTimestamp, lastTimestamp, source, involvedObject } = r;
  return { type, reason, message, count, firstTimestamp, lastTimestamp, source, involvedObject };
}

function eventId(r: EventRecord): string {
  return JSON.stringify([r.involvedObject, r.type, r.reason, r.message, r.source]);
}

function matches(f: EventFilter, r: { involvedObject: { kind: string; name: string } }): boolean {
  return (
    (f.kind === undefined || r.involvedObject.kind === f.kind) &&
    (f.name === undefined || r.involvedObject.name === f.name)
  );
}

/** The recorder's events matching `f`: first ADDED per current one, then ADDED/MODIFIED live. */
export function watchRecordedEvents(
  recorder: EventRecorder,
  f: EventFilter,
  signal: AbortSignal,
): Observable<WatchEvent<EventRecord>> {
  return until(
    defer(() => {
      const seen = new Set<string>();
      const initial = recorder
        .list()
        .filter((r) => matches(f, r))
        .map(toApiEvent);
      for (const r of initial) seen.add(eventId(r));
      const live = recorder.events$.pipe(
        filter((r) => matches(f, r)),
        map((r): WatchEvent<EventRecord> => {
          const e = toApiEvent(r);
          const type = seen.has(eventId(e)) ? 'MODIFIED' : 'ADDED';
          seen.add(eventId(e));
          return { type, object: e };
        }),
      );
      return concat(from(initial.map((e): WatchEvent<EventRecord> => ({ type: 'ADDED', object: e }))), live);
    }),
    signal,
  );
}

export function storeBackend(p: StoreBackendParts): ApiBackend {
  return {
    version: (): VersionInfo => {
      const revision = p.store.revision();
      return {
        version: p.version,
        apiVersion: 'run.orcra.dev/v0alpha',
        node: p.nodeName,
        ...(revision === undefined ? {} : { revision }),
      };
    },
    list: (kind) => p.store.list(kind) as unknown as readonly ApiObject[],
    get: (kind, name) => p.store.get(kind, name) as unknown as ApiObject | undefined,
    watch: (kind, signal) =>
      until(
        p.store
          .watch({ kinds: [kind] })
          .pipe(map((e): WatchEvent => ({ type: e.type, object: e.object as unknown as ApiObject }))),
        signal,
      ),
    events: (f) =>
      p.recorder
        .list()
        .filter((r) => matches(f, r))
        .map(toApiEvent),
    watchEvents: (f, signal) => watchRecordedEvents(p.recorder, f, signal),
    reconcile: (kind, name) => p.store.get(kind, name) !== undefined && p.enqueue(kind, name),
    syncSource: () => p.syncSource(),
    logs: (kind, name, options: LogOptions, signal) => p.logs(kind, name, options, signal),
  };
}
