/**
 * The shapes every run.orcra.dev/v0alpha object shares. Kind-specific schemas (zod) live in
 * sibling files; these plain types are what the kind-agnostic runtime (store, controllers,
 * local API) works with.
 */
export const API_GROUP = 'run.orcra.dev';
export const API_VERSION = 'run.orcra.dev/v0alpha';

export type KindName = 'Node' | 'Deployment' | 'Service' | 'ServiceGraph';

export interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the store: bumped whenever the spec's hash changes. Never read from Git. */
  generation?: number;
  /** Set by the store when the object is first seen (RFC 3339). */
  creationTimestamp?: string;
  /** Set by the store: changes on every stored write (spec or status). */
  resourceVersion?: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. `lastTransitionTime` changes only when `status` flips. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  /** CamelCase, machine-readable. */
  reason: string;
  message: string;
}

export interface ObjectStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

/** Any API object as the runtime sees it. */
export interface ApiObject<
  K extends string = string,
  Spec = unknown,
  Status extends ObjectStatus = ObjectStatus,
> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

/** `Kind/name`, the key the store and work queues use. */
export type ObjectKey = string;

export function objectKey(kind: string, name: string): ObjectKey {
  return `${kind}/${name}`;
}

export function splitKey(key: ObjectKey): { kind: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { kind: '', name: key } : { kind: key.slice(0, i), name: key.slice(i + 1) };
}

/** The annotation that says where an object came from: `<path>@<commit>`. */
export const SOURCE_ANNOTATION = 'run.orcra.dev/source';

/**
 * `run.orcra.dev/suspend: "true"` on an object in Git: neither reconciled nor pruned while set
 * (on the Node: every object of that node). `orunctl suspend` does the same without a commit.
 */
export const SUSPEND_ANNOTATION = 'run.orcra.dev/suspend';
