/**
 * The local API's backend (runtime/api ApiBackend) over the agent's parts: the store for
 * objects, the event recorder for events, the Git source for `reconcile source`, the
 * controllers' queues for `reconcile`, and the engine for container logs.
 */
import { concat, defer, filter, from, fromEvent, map, takeUntil, type Observable } from 'rxjs';
import type { ApiObject, KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ApiBackend, EventFilter } from '../../runtime/api/backend.ts';
import type { EventRecord, LogOptions, VersionInfo, WatchEvent } from '../../runtime/api/types.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import type { EventRecorder } from '../../runtime/events/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import { deploymentSelector } from '../../controllers/deployment/index.ts';

export interface AgentBackendParts {
  version: string;
  nodeName: string;
  store: Store;
  recorder: EventRecorder;
  engine: Pick<ContainerEngine, 'listContainers' | 'containerLogs'>;
  /** Polls Git now. */
  syncSource: () => void;
  /** Enqueues `Kind/name` in its controller; false when no controller handles the kind. */
  enqueue: (kind: KindName, name: string) => boolean;
}

function until<T>(source: Observable<T>, signal: AbortSignal): Observable<T> {
  return source.pipe(takeUntil(fromEvent(signal, 'abort')));
}

function toApiEvent(r: {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: string;
  involvedObject: { kind: string; name: string };
}): EventRecord {
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

export function agentApiBackend(p: AgentBackendParts): ApiBackend {
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
    watchEvents: (f, signal) =>
      until(
        defer(() => {
          const seen = new Set<string>();
          const initial = p.recorder
            .list()
            .filter((r) => matches(f, r))
            .map(toApiEvent);
          for (const r of initial) seen.add(eventId(r));
          const live = p.recorder.events$.pipe(
            filter((r) => matches(f, r)),
            map((r): WatchEvent<EventRecord> => {
              const e = toApiEvent(r);
              const type = seen.has(eventId(e)) ? 'MODIFIED' : 'ADDED';
              seen.add(eventId(e));
              return { type, object: e };
            }),
          );
          return concat(
            from(initial.map((e): WatchEvent<EventRecord> => ({ type: 'ADDED', object: e }))),
            live,
          );
        }),
        signal,
      ),
    reconcile: (kind, name) => p.store.get(kind, name) !== undefined && p.enqueue(kind, name),
    syncSource: () => p.syncSource(),
    logs: (name, options: LogOptions, signal) => containerLines(p, name, options, signal),
  };
}

async function* containerLines(
  p: AgentBackendParts,
  name: string,
  options: LogOptions,
  signal: AbortSignal,
): AsyncIterable<string> {
  const containers = await p.engine.listContainers(deploymentSelector(name, p.nodeName));
  const c = containers.find((x) => x.state === 'running') ?? containers[0];
  if (c === undefined) return;
  for await (const l of p.engine.containerLogs(c.id, {
    follow: options.follow ?? false,
    ...(options.tailLines === undefined ? {} : { tail: options.tailLines }),
    signal,
  }))
    yield l.line;
}
