/**
 * The wire shapes of `POST /apis/diff` (`orun diff`): what applying a manifest tree would change
 * on this node. Secret values never appear: a secret field is only `changed` or `unchanged`.
 */
import type { SourceError } from '../../apis/run.orcra.dev/v0alpha/node.ts';

export const DIFF_PATH = '/apis/diff';

export interface DiffRequest {
  /** A directory on the agent's host holding the manifest tree (absolute). */
  dir: string;
  /** Shown in the output: the work tree, branch or commit the tree came from. */
  label?: string;
}

/** One differing field of an object's spec (dotted path, e.g. `spec.env.TOKEN`). */
export type FieldChange =
  | { path: string; from?: unknown; to?: unknown }
  | { path: string; secret: 'changed' | 'unchanged' | 'added' | 'removed' };

export interface ObjectChange {
  kind: 'Deployment' | 'Service' | 'ServiceGraph';
  name: string;
  /**
   * created / pruned; `replaced` (Deployment: a new container), `rerouted` (Service: where its
   * host goes changed), `restarted` (ServiceGraph: the services listed restart), `updated` (a
   * spec change that replaces nothing).
   */
  action: 'created' | 'replaced' | 'pruned' | 'rerouted' | 'restarted' | 'updated';
  fields?: FieldChange[];
  /** ServiceGraph: services that would (re)start or stop. */
  services?: { restarted: string[]; stopped: string[] };
  /** Set when the object is suspended: the change waits for `orunctl resume`. */
  suspended?: boolean;
}

export interface DiffResult {
  /** The revision the agent holds now. */
  currentRevision?: string;
  label?: string;
  changes: ObjectChange[];
  /** Manifest errors in the tree; with any, `changes` is empty (the agent would keep last good). */
  errors: SourceError[];
}
