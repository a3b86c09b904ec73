export {
  Store,
  type ApplyResult,
  type IndexFunc,
  type Snapshot,
  type StoredObject,
  type StoreEvent,
  type StoreEventType,
  type StoreOptions,
  type WatchOptions,
} from './store.ts';
export { deepFreeze, type DeepReadonly } from './freeze.ts';
export { canonicalJSON, hashOf } from './hash.ts';
export { labelMatcher, type LabelSelector } from './selector.ts';
