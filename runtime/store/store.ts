import { Observable, Subject } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import {
  objectKey,
  type ApiObject,
  type ObjectKey,
  type ObjectStatus,
} from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { realClock, rfc3339, type Clock } from '../clock/index.ts';
import { deepFreeze, type DeepReadonly } from './freeze.ts';
import { hashOf } from './hash.ts';
import { labelMatcher, type LabelSelector } from './selector.ts';

/** What the store hands out: the stored object itself, deep-frozen. */
export type StoredObject<T extends ApiObject = ApiObject> = DeepReadonly<T>;

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent<T extends ApiObject = ApiObject> {
  type: StoreEventType;
  /** For DELETED: the last known object (a tombstone), never undefined. */
  object: StoredObject<T>;
  /** For MODIFIED: the object before this write. */
  oldObject?: StoredObject<T>;
  /** The spec changed (generation bumped). True for ADDED and DELETED. */
  specChanged: boolean;
  /** Written by `updateStatus`: only status changed, so a spec reconcile is not needed. */
  statusOnly: boolean;
}

export interface Snapshot {
  /** Kinds this snapshot is complete for: stored objects of these kinds missing from it are deleted. */
  kinds: readonly string[];
  objects: readonly ApiObject[];
  /** Where the snapshot came from, e.g. a Git commit. */
  revision?: string;
}

export interface ApplyResult {
  revision: string | undefined;
  added: StoredObject[];
  updated: StoredObject[];
  deleted: StoredObject[];
  unchanged: number;
}

export interface WatchOptions {
  /** Only events for these kinds. Default: all. */
  kinds?: readonly string[];
  /** Emit ADDED for every existing object first (list, then watch). Default: true. */
  initial?: boolean;
}

export type IndexFunc = (obj: StoredObject) => readonly string[];

export interface StoreOptions {
  /** Stamps creationTimestamp. Default: the real clock. */
  clock?: Clock;
}

interface Entry {
  obj: StoredObject;
  specHash: string;
  metaHash: string;
}

/**
 * The in-memory object cache every controller reads (an informer cache). Desired state comes
 * in whole snapshots via `apply`; status comes from controllers via `updateStatus`. Writes
 * update the cache first and then emit events, so a subscriber always reads the new state.
 */
export class Store {
  readonly #clock: Clock;
  readonly #entries = new Map<ObjectKey, Entry>();
  readonly #indexers = new Map<string, IndexFunc>();
  /** index name → value → keys */
  readonly #indexes = new Map<string, Map<string, Set<ObjectKey>>>();
  readonly #subject = new Subject<StoreEvent>();
  #rv = 0;
  #revision: string | undefined;
  #synced = false;

  /** Live events only. Use `watch()` to start from the current state. */
  readonly events$: Observable<StoreEvent> = this.#subject.asObservable();

  constructor(opts: StoreOptions = {}) {
    this.#clock = opts.clock ?? realClock;
  }

  /**
   * Replaces every stored object of `snapshot.kinds` with `snapshot.objects`. Validates the
   * whole snapshot before writing anything. Status and store-managed metadata of the input are
   * ignored; stored status survives spec updates.
   */
  apply(snapshot: Snapshot): ApplyResult {
    const incoming = this.#validate(snapshot);
    const result: ApplyResult = {
      revision: snapshot.revision,
      added: [],
      updated: [],
      deleted: [],
      unchanged: 0,
    };
    const events: StoreEvent[] = [];
    for (const [key, raw] of incoming) {
      const ev = this.#upsert(key, raw);
      if (!ev) result.unchanged++;
      else {
        (ev.type === 'ADDED' ? result.added : result.updated).push(ev.object);
        events.push(ev);
      }
    }
    const kinds = new Set(snapshot.kinds);
    for (const [key, entry] of [...this.#entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!kinds.has(entry.obj.kind) || incoming.has(key)) continue;
      this.#remove(key, entry);
      result.deleted.push(entry.obj);
      events.push({ type: 'DELETED', object: entry.obj, specChanged: true, statusOnly: false });
    }
    this.#revision = snapshot.revision ?? this.#revision;
    this.#synced = true;
    for (const ev of events) this.#subject.next(ev);
    return result;
  }

  /**
   * Writes a new status computed from the current one. A no-op when it is unchanged;
   * otherwise a MODIFIED event with `statusOnly: true`. Throws `store.not_found`.
   */
  updateStatus<S extends ObjectStatus = ObjectStatus>(
    kind: string,
    name: string,
    update: (old: DeepReadonly<S> | undefined, obj: StoredObject) => S | DeepReadonly<S>,
  ): StoredObject {
    const key = objectKey(kind, name);
    const entry = this.#entries.get(key);
    if (!entry)
      throw new OrunError('store.not_found', `store: update status: ${key} not found`, { context: { key } });
    const old = entry.obj;
    const status = update(old.status as DeepReadonly<S> | undefined, old);
    if (hashOf(status) === hashOf(old.status)) return old;
    const obj = deepFreeze({
      ...structuredClone(old as ApiObject),
      metadata: {
        ...structuredClone(old.metadata as ApiObject['metadata']),
        resourceVersion: this.#nextRV(),
      },
      status: structuredClone(status),
    }) as StoredObject;
    this.#write(key, { ...entry, obj }, entry);
    this.#subject.next({
      type: 'MODIFIED',
      object: obj,
      oldObject: old,
      specChanged: false,
      statusOnly: true,
    });
    return obj;
  }

  get<T extends ApiObject = ApiObject>(kind: string, name: string): StoredObject<T> | undefined {
    return this.#entries.get(objectKey(kind, name))?.obj as StoredObject<T> | undefined;
  }

  getByKey<T extends ApiObject = ApiObject>(key: ObjectKey): StoredObject<T> | undefined {
    return this.#entries.get(key)?.obj as StoredObject<T> | undefined;
  }

  /** Objects of `kind` sorted by name, optionally filtered by labels. */
  list<T extends ApiObject = ApiObject>(
    kind: string,
    opts: { labelSelector?: LabelSelector } = {},
  ): StoredObject<T>[] {
    const match = opts.labelSelector === undefined ? undefined : labelMatcher(opts.labelSelector);
    const out: StoredObject<T>[] = [];
    for (const { obj } of this.#entries.values()) {
      if (obj.kind === kind && (!match || match(obj.metadata.labels))) out.push(obj as StoredObject<T>);
    }
    return out.sort((a, b) =>
      a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
    );
  }

  /** Registers an index (e.g. Deployments by node); existing objects are indexed at once. */
  addIndex(name: string, fn: IndexFunc): void {
    if (this.#indexers.has(name))
      throw new OrunError('store.index_exists', `store: add index: ${name} already exists`);
    this.#indexers.set(name, fn);
    this.#indexes.set(name, new Map());
    for (const [key, { obj }] of this.#entries) this.#indexOne(name, fn, key, obj, 1);
  }

  /** Objects whose index function returned `value`, sorted by key. Throws `store.unknown_index`. */
  byIndex<T extends ApiObject = ApiObject>(name: string, value: string): StoredObject<T>[] {
    const index = this.#indexes.get(name);
    if (!index) throw new OrunError('store.unknown_index', `store: by index: no index named ${name}`);
    const keys = [...(index.get(value) ?? [])].sort();
    return keys.map((k) => this.#entries.get(k)?.obj as StoredObject<T>);
  }

  /** Events, starting (by default) with ADDED for each existing object, in key order. */
  watch(opts: WatchOptions = {}): Observable<StoreEvent> {
    const kinds = opts.kinds ? new Set(opts.kinds) : undefined;
    return new Observable<StoreEvent>((sub) => {
      if (opts.initial ?? true) {
        for (const key of [...this.#entries.keys()].sort()) {
          const obj = (this.#entries.get(key) as Entry).obj;
          if (!kinds || kinds.has(obj.kind))
            sub.next({ type: 'ADDED', object: obj, specChanged: true, statusOnly: false });
        }
      }
      return this.#subject.subscribe({
        next: (ev) => {
          if (!kinds || kinds.has(ev.object.kind)) sub.next(ev);
        },
        complete: () => sub.complete(),
      });
    });
  }

  /** True once a snapshot has been applied. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** The revision of the last applied snapshot that named one. */
  revision(): string | undefined {
    return this.#revision;
  }

  size(): number {
    return this.#entries.size;
  }

  /** Completes every watch. */
  close(): void {
    this.#subject.complete();
  }

  #validate(snapshot: Snapshot): Map<ObjectKey, ApiObject> {
    const kinds = new Set(snapshot.kinds);
    const incoming = new Map<ObjectKey, ApiObject>();
    for (const obj of snapshot.objects) {
      const key = objectKey(obj.kind, obj.metadata?.name ?? '');
      if (!kinds.has(obj.kind)) {
        throw new OrunError(
          'store.kind_not_in_snapshot',
          `store: apply: ${key}: kind ${obj.kind} is not among the snapshot's kinds`,
          {
            context: { key, kinds: snapshot.kinds },
          },
        );
      }
      if (!obj.metadata?.name)
        throw new OrunError('store.missing_name', `store: apply: a ${obj.kind} has no metadata.name`);
      if (incoming.has(key)) {
        throw new OrunError('store.duplicate_key', `store: apply: ${key} appears twice in the snapshot`, {
          context: { key },
        });
      }
      incoming.set(key, obj);
    }
    return incoming;
  }

  #upsert(key: ObjectKey, raw: ApiObject): StoreEvent | undefined {
    const { generation: _g, creationTimestamp: _c, resourceVersion: _r, ...meta } = raw.metadata;
    const specHash = hashOf(raw.spec);
    const metaHash = hashOf({ apiVersion: raw.apiVersion, meta });
    const old = this.#entries.get(key);
    if (old && old.specHash === specHash && old.metaHash === metaHash) return undefined;
    const specChanged = !old || old.specHash !== specHash;
    const obj: ApiObject = {
      apiVersion: raw.apiVersion,
      kind: raw.kind,
      metadata: structuredClone({
        ...meta,
        generation: old ? (old.obj.metadata.generation ?? 1) + (specChanged ? 1 : 0) : 1,
        creationTimestamp: old?.obj.metadata.creationTimestamp ?? rfc3339(this.#clock),
        resourceVersion: this.#nextRV(),
      }),
      spec: structuredClone(raw.spec),
    };
    if (old?.obj.status !== undefined) obj.status = structuredClone(old.obj.status as ObjectStatus);
    const frozen = deepFreeze(obj) as StoredObject;
    this.#write(key, { obj: frozen, specHash, metaHash }, old);
    return old
      ? { type: 'MODIFIED', object: frozen, oldObject: old.obj, specChanged, statusOnly: false }
      : { type: 'ADDED', object: frozen, specChanged: true, statusOnly: false };
  }

  #write(key: ObjectKey, entry: Entry, old: Entry | undefined): void {
    for (const [name, fn] of this.#indexers) {
      if (old) this.#indexOne(name, fn, key, old.obj, -1);
      this.#indexOne(name, fn, key, entry.obj, 1);
    }
    this.#entries.set(key, entry);
  }

  #remove(key: ObjectKey, entry: Entry): void {
    for (const [name, fn] of this.#indexers) this.#indexOne(name, fn, key, entry.obj, -1);
    this.#entries.delete(key);
  }

  #indexOne(name: string, fn: IndexFunc, key: ObjectKey, obj: StoredObject, dir: 1 | -1): void {
    const index = this.#indexes.get(name) as Map<string, Set<ObjectKey>>;
    for (const value of fn(obj)) {
      let keys = index.get(value);
      if (dir === 1) {
        if (!keys) index.set(value, (keys = new Set()));
        keys.add(key);
      } else if (keys) {
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }

  #nextRV(): string {
    return String(++this.#rv);
  }
}
