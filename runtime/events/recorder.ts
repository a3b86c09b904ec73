import { Observable, Subject } from 'rxjs';
import { objectKey, type ObjectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { realClock, rfc3339, type Clock } from '../clock/index.ts';

export type EventType = 'Normal' | 'Warning';

/** core/v1 Event, trimmed to what `orunctl describe` shows. */
export interface EventRecord {
  /** `Kind/name` of the involved object. */
  key: ObjectKey;
  involvedObject: { kind: string; name: string };
  type: EventType;
  /** CamelCase, machine-readable. */
  reason: string;
  message: string;
  /** The component that reported it (describe's FROM column). */
  source: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

export interface EventRecorderOptions {
  /** Default: the real clock. */
  clock?: Clock;
  /** Records kept; the least recently seen is evicted first. Default: 1000. */
  capacity?: number;
  /** Applied to every message before it is stored (secrets never reach events). Default: identity. */
  redact?: (message: string) => string;
}

/**
 * Records events in memory, deduplicated by object + type + reason + message: a repeat bumps
 * count and lastTimestamp. Bounded: the least recently seen record is evicted.
 */
export class EventRecorder {
  readonly #clock: Clock;
  readonly #capacity: number;
  readonly #redact: (message: string) => string;
  /** Insertion order = recency order (a repeat is moved to the end). */
  readonly #records = new Map<string, EventRecord>();
  readonly #subject = new Subject<EventRecord>();
  /** Every new or updated record. */
  readonly events$: Observable<EventRecord> = this.#subject.asObservable();

  constructor(opts: EventRecorderOptions = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#capacity = Math.max(1, opts.capacity ?? 1000);
    this.#redact = opts.redact ?? ((m) => m);
  }

  /** A recorder bound to one component name (the FROM column). */
  for(source: string): EventSink {
    return { event: (obj, type, reason, message) => this.record(source, obj, type, reason, message) };
  }

  record(
    source: string,
    obj: { kind: string; metadata: { name: string } },
    type: EventType,
    reason: string,
    message: string,
  ): EventRecord {
    const key = objectKey(obj.kind, obj.metadata.name);
    const msg = this.#redact(message);
    const id = JSON.stringify([key, type, reason, msg, source]);
    const now = rfc3339(this.#clock);
    const old = this.#records.get(id);
    const rec: EventRecord = old
      ? { ...old, count: old.count + 1, lastTimestamp: now }
      : {
          key,
          involvedObject: { kind: obj.kind, name: obj.metadata.name },
          type,
          reason,
          message: msg,
          source,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
        };
    Object.freeze(rec.involvedObject);
    Object.freeze(rec);
    this.#records.delete(id);
    this.#records.set(id, rec);
    if (this.#records.size > this.#capacity) {
      const oldest = this.#records.keys().next().value as string;
      this.#records.delete(oldest);
    }
    this.#subject.next(rec);
    return rec;
  }

  /** Records, oldest lastTimestamp first; optionally only those of one object. */
  list(opts: { key?: ObjectKey } = {}): EventRecord[] {
    const out: EventRecord[] = [];
    for (const r of this.#records.values()) if (opts.key === undefined || r.key === opts.key) out.push(r);
    return out;
  }

  /** Existing records (optionally of one object), then every new or updated one. */
  watch(opts: { key?: ObjectKey } = {}): Observable<EventRecord> {
    return new Observable<EventRecord>((sub) => {
      for (const r of this.list(opts)) sub.next(r);
      return this.#subject.subscribe((r) => {
        if (opts.key === undefined || r.key === opts.key) sub.next(r);
      });
    });
  }
}

/** What a reconciler holds: events from one component. */
export interface EventSink {
  event(
    obj: { kind: string; metadata: { name: string } },
    type: EventType,
    reason: string,
    message: string,
  ): EventRecord;
}

/**
 * What a reconciler records events through: on `<kind>/<name>` of its own kind. One signature for
 * every controller; messages never carry secret values.
 */
export type RecordEvent = (name: string, type: EventType, reason: string, message: string) => void;

/** A RecordEvent that records on objects of `kind` through `sink`. */
export function recordEventFor(sink: EventSink, kind: string): RecordEvent {
  return (name, type, reason, message) => {
    sink.event({ kind, metadata: { name } }, type, reason, message);
  };
}
