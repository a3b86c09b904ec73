/**
 * The Node's status from what the Git source and the informer report: pure, so it is tested
 * with tables. Conditions: `GitSynced` (the checkout equals the remote tip), `ManifestsValid`
 * (every file at the revision decoded) and `Ready` (both).
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { NodeStatus, SourceError } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import { READY, setCondition } from '../../runtime/conditions/index.ts';

export const GIT_SYNCED = 'GitSynced';
export const MANIFESTS_VALID = 'ManifestsValid';
/** The container engine answers (CRI's RuntimeReady; the kubelet's "container runtime is down"). */
export const RUNTIME_READY = 'RuntimeReady';
/** The last good objects are saved in the data dir (False: a full disk; the previous copy is kept). */
export const STATE_SAVED = 'StateSaved';

export const NodeReason = {
  Succeeded: 'Succeeded',
  Progressing: 'Progressing',
  ManifestErrors: 'ManifestErrors',
  AllManifestsValid: 'AllManifestsValid',
  /** The store holds the last good objects a previous run saved; no revision loaded in this run yet. */
  LastGoodRestored: 'LastGoodRestored',
  Synced: 'Synced',
  EngineAvailable: 'EngineAvailable',
  EngineUnavailable: 'EngineUnavailable',
} as const;

/** What the agent knows of the container engine (runtime/docker EngineHealth.status()). */
export interface EngineView {
  /** Undefined until the first answer. */
  available: boolean | undefined;
  message: string;
}

/** What GitSource.status() reports (runtime/git). */
export interface GitStatusView {
  ready: boolean;
  reason: string;
  message: string;
  lastSuccessTime?: Date;
  lastAttemptTime?: Date;
}

/** What the informer reports of the last applied revision. */
export interface AppliedView {
  revision: string;
  branch: string;
  errors: readonly SourceError[];
  keptFiles: readonly string[];
  /** Why the last good objects could not be saved in the data dir (e.g. ENOSPC); unset when saved. */
  saveError?: string;
  /** Set when the revision was not reconciled (e.g. UnknownNode: no nodes/<name>.yaml). */
  refused?: { reason: string; message: string };
  /** Set when these are the last good objects a previous run saved (no revision of this run applied). */
  restored?: { message: string };
}

/** `production` for main, else the branch name (DESIGN.md §2, environments). */
export function environmentOf(branch: string): string {
  return branch === 'main' ? 'production' : branch;
}

function formatError(e: SourceError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

export function nodeStatus(
  old: Readonly<NodeStatus> | undefined,
  git: GitStatusView,
  applied: AppliedView | undefined,
  generation: number | undefined,
  now: number,
  engine?: EngineView,
): NodeStatus {
  const g = generation === undefined ? {} : { observedGeneration: generation };
  let conditions: Condition[] = setCondition(
    old?.conditions,
    {
      type: GIT_SYNCED,
      status: git.ready ? 'True' : 'False',
      reason: git.reason,
      message: git.message,
      ...g,
    },
    now,
  );
  const manifests = manifestsCondition(applied);
  conditions = setCondition(conditions, { type: MANIFESTS_VALID, ...manifests, ...g }, now);
  const saved = stateSaved(applied, old);
  if (saved !== undefined) conditions = setCondition(conditions, { type: STATE_SAVED, ...saved, ...g }, now);
  const runtime = engine === undefined ? undefined : runtimeCondition(engine);
  if (runtime !== undefined)
    conditions = setCondition(conditions, { type: RUNTIME_READY, ...runtime, ...g }, now);
  const ready = readyCondition(git, applied, runtime, manifests);
  conditions = setCondition(conditions, { type: READY, ...ready, ...g }, now);
  const branch = applied?.branch;
  const errors = applied?.errors ?? [];
  return {
    ...g,
    conditions,
    ...(applied ? { revision: applied.revision } : {}),
    ...(branch ? { branch, environment: environmentOf(branch) } : {}),
    ...(git.lastSuccessTime ? { lastSyncTime: iso(git.lastSuccessTime) } : {}),
    ...(git.lastAttemptTime ? { lastAttemptTime: iso(git.lastAttemptTime) } : {}),
    ...(errors.length > 0 ? { sourceErrors: errors.map((e) => ({ ...e })) } : {}),
  };
}

/** A condition's status, reason and message. */
interface ConditionFields {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** ManifestsValid: every file of the applied revision decoded (Unknown before one is applied). */
function manifestsCondition(applied: AppliedView | undefined): ConditionFields {
  if (applied === undefined) {
    return { status: 'Unknown', reason: NodeReason.Progressing, message: 'no revision applied yet' };
  }
  if (applied.restored !== undefined) {
    return { status: 'Unknown', reason: NodeReason.LastGoodRestored, message: applied.restored.message };
  }
  const errors = applied.errors;
  if (errors.length === 0) {
    return {
      status: 'True',
      reason: NodeReason.AllManifestsValid,
      message: `all manifests at ${applied.revision} decoded`,
    };
  }
  return {
    status: 'False',
    reason: NodeReason.ManifestErrors,
    message:
      `${errors.length} manifest error${errors.length === 1 ? '' : 's'} in ${filesOf(errors)} at ${applied.revision}` +
      `${applied.keptFiles.length > 0 ? ` (keeping the last good objects of ${applied.keptFiles.join(', ')})` : ''}: ` +
      formatError(errors[0] as SourceError),
  };
}

/**
 * Ready: the first of these that fails says why — the revision refused, the engine down, the
 * checkout behind, the objects only restored, a manifest invalid; else Synced.
 */
function readyCondition(
  git: GitStatusView,
  applied: AppliedView | undefined,
  runtime: ConditionFields | undefined,
  manifests: ConditionFields,
): ConditionFields {
  if (applied?.refused) {
    return { status: 'False', reason: applied.refused.reason, message: applied.refused.message };
  }
  if (runtime?.status === 'False') return runtime;
  if (!git.ready) return { status: 'False', reason: git.reason, message: git.message };
  if (applied?.restored !== undefined) {
    return { status: 'False', reason: NodeReason.LastGoodRestored, message: applied.restored.message };
  }
  if (manifests.status !== 'True') return manifests;
  return { status: 'True', reason: NodeReason.Synced, message: `applied ${applied?.revision ?? ''}` };
}

/** Shown once a save failed (and from then on), so a full data dir is seen on the Node. */
function stateSaved(
  applied: AppliedView | undefined,
  old: Readonly<NodeStatus> | undefined,
): { status: 'True' | 'False'; reason: string; message: string } | undefined {
  if (applied?.saveError !== undefined) {
    return {
      status: 'False',
      reason: 'StateWriteFailed',
      message: `saving the last good objects in the data dir failed (${applied.saveError}); the previous copy on disk is kept, and the save is retried until it works`,
    };
  }
  if (!old?.conditions?.some((c) => c.type === STATE_SAVED)) return undefined;
  return { status: 'True', reason: 'Saved', message: 'the last good objects are saved in the data dir' };
}

function runtimeCondition(e: EngineView): ConditionFields {
  if (e.available === undefined)
    return {
      status: 'Unknown',
      reason: NodeReason.Progressing,
      message: 'the container engine was not reached yet',
    };
  return e.available
    ? { status: 'True', reason: NodeReason.EngineAvailable, message: 'the container engine answers' }
    : {
        status: 'False',
        reason: NodeReason.EngineUnavailable,
        message: `the container engine does not answer (${e.message}); containers are left as they are and nothing is changed until it answers`,
      };
}

/** `deployments/a.yaml, services/b.yaml` (the first five, then `and N more files`). */
function filesOf(errors: readonly SourceError[]): string {
  const files = [...new Set(errors.map((e) => e.file))];
  const shown = files.slice(0, 5).join(', ');
  return files.length > 5 ? `${shown} and ${files.length - 5} more files` : shown;
}

function iso(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
