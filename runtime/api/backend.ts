/**
 * ApiBackend is what the local API server needs from the agent. The agent implements it over
 * its store, event recorder, Git source and Docker adapter; tests use FakeApiBackend.
 */
import type { ObservableInput } from 'rxjs';
import type { ApiObject, KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { DiffRequest, DiffResult } from './diff.ts';
import type { LabelSelector } from './selector.ts';
import type { EventRecord, LogOptions, VersionInfo, WatchEvent } from './types.ts';

/** Which events to return; an empty filter returns all. */
export interface EventFilter {
  kind?: KindName;
  name?: string;
}

export type MaybePromise<T> = T | Promise<T>;

/** The kinds that have logs. */
export type LogKind = Extract<KindName, 'Deployment' | 'ServiceGraph'>;

export interface ApiBackend {
  /** What `GET /version` returns. */
  version(): MaybePromise<VersionInfo>;
  /**
   * The current objects of `kind`, with status. The server filters by `selector` again, so a
   * backend may ignore it (it is there for a backend that has a label index).
   */
  list(kind: KindName, selector: LabelSelector): MaybePromise<readonly ApiObject[]>;
  /** One object, or undefined when there is none of that name. */
  get(kind: KindName, name: string): MaybePromise<ApiObject | undefined>;
  /**
   * Changes to objects of `kind`: first one ADDED per current object, then live changes (a
   * DELETED carries the last known object). Must complete, or stop being consumed, when `signal`
   * aborts (the client went away or the server closes). An AsyncIterable or rxjs Observable.
   */
  watch(kind: KindName, signal: AbortSignal): ObservableInput<WatchEvent>;
  /** Events, oldest first. */
  events(filter: EventFilter): MaybePromise<readonly EventRecord[]>;
  /**
   * Events as they are recorded: first ADDED per current event, then ADDED for a new one and
   * MODIFIED when a repeat bumps `count`. Ends when `signal` aborts.
   */
  watchEvents(filter: EventFilter, signal: AbortSignal): ObservableInput<WatchEvent<EventRecord>>;
  /** Enqueues `kind/name` for reconcile now. False when there is no such object. */
  reconcile(kind: KindName, name: string): MaybePromise<boolean>;
  /**
   * Suspends (`suspended` true) or resumes `kind/name` (`Node`: the whole node), like
   * `flux suspend`. False when there is no such object. Optional: without it the server answers 501.
   */
  suspend?(kind: KindName, name: string, suspended: boolean): MaybePromise<boolean>;
  /**
   * What applying the manifest tree in `req.dir` would change on this node (`orun diff`).
   * Optional: without it the server answers 501.
   */
  diff?(req: DiffRequest): Promise<DiffResult>;
  /** Polls Git now (like `flux reconcile source git`). Resolves once the poll is queued. */
  syncSource(): MaybePromise<void>;
  /**
   * The log lines of Deployment `name` (its container) or ServiceGraph `name` (its services: one,
   * `options.container`, or all of them), one item per line without the newline. The server has
   * already checked that the object exists. Ends when `signal` aborts. May reject before the
   * first line (an `UnknownService` OrunError is the client's mistake: 400).
   */
  logs(
    kind: LogKind,
    name: string,
    options: LogOptions,
    signal: AbortSignal,
  ): MaybePromise<ObservableInput<string>>;
}
