/**
 * An in-memory ApiBackend for tests of the API server, the client and orunctl. Objects and
 * events are set directly; watchers see the changes live.
 */
import { Observable, Subject, concat, defer, from, takeUntil, fromEvent } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import type { ApiObject, KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ApiBackend, EventFilter, LogKind } from './backend.ts';
import type { EventRecord, LogOptions, VersionInfo, WatchEvent, WireObject } from './types.ts';

export class FakeApiBackend implements ApiBackend {
  readonly objects = new Map<string, ApiObject>();
  readonly eventRecords: EventRecord[] = [];
  /** Log lines per Deployment name. */
  readonly logLines = new Map<string, string[]>();
  /** Every reconcile request, as `Kind/name` or `source`. */
  readonly reconciled: string[] = [];
  versionInfo: VersionInfo = { version: '0.0.0-test', apiVersion: 'run.orcra.dev/v0alpha', node: 'test' };

  private readonly changes = new Subject<WatchEvent>();
  private readonly eventChanges = new Subject<WatchEvent<EventRecord>>();
  private readonly logChanges = new Subject<{ name: string; line: string }>();

  /** True while some watch of objects is open (to check streams end when clients go away). */
  get watching(): boolean {
    return this.changes.observed;
  }

  /** Adds or replaces an object; watchers see ADDED or MODIFIED. */
  set(obj: ApiObject | WireObject): void {
    const key = objectKey(obj.kind, obj.metadata.name);
    const type = this.objects.has(key) ? 'MODIFIED' : 'ADDED';
    this.objects.set(key, obj);
    this.changes.next({ type, object: obj });
  }

  /** Removes an object; watchers see DELETED with the last known object. */
  delete(kind: KindName, name: string): void {
    const key = objectKey(kind, name);
    const obj = this.objects.get(key);
    if (obj === undefined) return;
    this.objects.delete(key);
    this.changes.next({ type: 'DELETED', object: obj });
  }

  /** Records an event, or bumps the count of an equal one (same object, reason and message). */
  record(event: EventRecord): void {
    const same = this.eventRecords.findIndex(
      (e) =>
        e.involvedObject.kind === event.involvedObject.kind &&
        e.involvedObject.name === event.involvedObject.name &&
        e.reason === event.reason &&
        e.message === event.message,
    );
    if (same >= 0) {
      this.eventRecords[same] = event;
      this.eventChanges.next({ type: 'MODIFIED', object: event });
    } else {
      this.eventRecords.push(event);
      this.eventChanges.next({ type: 'ADDED', object: event });
    }
  }

  /** Appends a log line to object `name` (whatever its kind); followers see it. */
  log(name: string, line: string): void {
    const lines = this.logLines.get(name) ?? [];
    lines.push(line);
    this.logLines.set(name, lines);
    this.logChanges.next({ name, line });
  }

  version(): VersionInfo {
    return this.versionInfo;
  }

  list(kind: KindName): ApiObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }

  get(kind: KindName, name: string): ApiObject | undefined {
    return this.objects.get(objectKey(kind, name));
  }

  watch(kind: KindName, signal: AbortSignal): Observable<WatchEvent> {
    return untilAborted(
      defer(() =>
        concat(
          from(this.list(kind).map((object): WatchEvent => ({ type: 'ADDED', object }))),
          new Observable<WatchEvent>((sub) =>
            this.changes.subscribe((e) => {
              if (e.object.kind === kind) sub.next(e);
            }),
          ),
        ),
      ),
      signal,
    );
  }

  events(filter: EventFilter): EventRecord[] {
    return this.eventRecords.filter((e) => eventMatches(e, filter));
  }

  watchEvents(filter: EventFilter, signal: AbortSignal): Observable<WatchEvent<EventRecord>> {
    return untilAborted(
      defer(() =>
        concat(
          from(this.events(filter).map((object): WatchEvent<EventRecord> => ({ type: 'ADDED', object }))),
          new Observable<WatchEvent<EventRecord>>((sub) =>
            this.eventChanges.subscribe((e) => {
              if (eventMatches(e.object, filter)) sub.next(e);
            }),
          ),
        ),
      ),
      signal,
    );
  }

  reconcile(kind: KindName, name: string): boolean {
    if (!this.objects.has(objectKey(kind, name))) return false;
    this.reconciled.push(objectKey(kind, name));
    return true;
  }

  syncSource(): void {
    this.reconciled.push('source');
  }

  /** Every `logs` call, for tests. */
  readonly logRequests: { kind: LogKind; name: string; options: LogOptions }[] = [];

  /**
   * A Deployment's lines are `log(name, …)`'s; a ServiceGraph service's are `log('<name>/<service>', …)`'s,
   * and a service without any is unknown (`UnknownService`, as the agent answers).
   */
  logs(kind: LogKind, graph: string, options: LogOptions, signal: AbortSignal): Observable<string> {
    this.logRequests.push({ kind, name: graph, options });
    const name = kind === 'ServiceGraph' ? `${graph}/${options.container ?? ''}` : graph;
    if (kind === 'ServiceGraph' && !this.logLines.has(name))
      throw new OrunError(
        'UnknownService',
        `servicegraph "${graph}" has no service "${options.container ?? ''}"`,
      );
    return untilAborted(
      defer(() => {
        const lines = this.logLines.get(name) ?? [];
        const tail =
          options.tailLines === undefined
            ? lines
            : lines.slice(Math.max(0, lines.length - options.tailLines));
        if (options.follow !== true) return from([...tail]);
        return concat(
          from([...tail]),
          new Observable<string>((sub) =>
            this.logChanges.subscribe((l) => {
              if (l.name === name) sub.next(l.line);
            }),
          ),
        );
      }),
      signal,
    );
  }
}

function eventMatches(e: EventRecord, filter: EventFilter): boolean {
  return (
    (filter.kind === undefined || e.involvedObject.kind === filter.kind) &&
    (filter.name === undefined || e.involvedObject.name === filter.name)
  );
}

function untilAborted<T>(source: Observable<T>, signal: AbortSignal): Observable<T> {
  return source.pipe(takeUntil(signal.aborted ? from([0]) : fromEvent(signal, 'abort')));
}
