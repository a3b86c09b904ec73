import type { Condition, ConditionStatus } from '../../apis/run.orcra.dev/v0alpha/meta.ts';

/** kstatus condition types. Ready is "normal-true"; Reconciling and Stalled are "abnormal-true": present only while True. */
export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

/** A condition to set; lastTransitionTime is computed. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** A timestamp in RFC 3339 (second precision, as Kubernetes writes it). */
export function conditionTime(now: Date | number | string): string {
  if (typeof now === 'string') return now;
  const ms = typeof now === 'number' ? now : now.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Returns a new list with `cond` set (meta.SetStatusCondition): lastTransitionTime changes only
 * when status flips (or the condition is new); reason, message and observedGeneration are
 * always updated. Input is never mutated (store objects are frozen).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  cond: ConditionInput,
  now: Date | number | string,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === cond.type);
  const old = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    ...(cond.observedGeneration !== undefined ? { observedGeneration: cond.observedGeneration } : {}),
    lastTransitionTime: old && old.status === cond.status ? old.lastTransitionTime : conditionTime(now),
    reason: cond.reason,
    message: cond.message,
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isStatus(
  conditions: readonly Condition[] | undefined,
  type: string,
  status: ConditionStatus,
): boolean {
  return findCondition(conditions, type)?.status === status;
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return isStatus(conditions, type, 'True');
}

export interface Mark {
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** Work in progress: Reconciling=True, Stalled removed, Ready=Unknown unless Ready is already known. */
export function markReconciling(
  conditions: readonly Condition[] | undefined,
  m: Mark,
  now: Date | number | string,
): Condition[] {
  let list = setCondition(
    removeCondition(conditions, STALLED),
    { type: RECONCILING, status: 'True', ...m },
    now,
  );
  if (!findCondition(list, READY)) list = setCondition(list, { type: READY, status: 'Unknown', ...m }, now);
  return list;
}

/** Done: Ready=True; Reconciling and Stalled removed. */
export function markReady(
  conditions: readonly Condition[] | undefined,
  m: Mark,
  now: Date | number | string,
): Condition[] {
  const rest = removeCondition(removeCondition(conditions, RECONCILING), STALLED);
  return setCondition(rest, { type: READY, status: 'True', ...m }, now);
}

/** Not ready but still trying (e.g. a retryable failure): Ready=False, Reconciling kept. */
export function markNotReady(
  conditions: readonly Condition[] | undefined,
  m: Mark,
  now: Date | number | string,
): Condition[] {
  return setCondition(conditions, { type: READY, status: 'False', ...m }, now);
}

/**
 * The truth is not known (e.g. the container engine does not answer): Ready=Unknown with `m`'s
 * reason and message, for the generation the last Ready was about; Reconciling and Stalled stay
 * as they were (an outage is neither progress nor a failure of the object).
 */
export function markUnknown(
  conditions: readonly Condition[] | undefined,
  m: Omit<Mark, 'observedGeneration'>,
  now: Date | number | string,
): Condition[] {
  const generation = findCondition(conditions, READY)?.observedGeneration;
  return setCondition(
    conditions,
    {
      type: READY,
      status: 'Unknown',
      ...m,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    },
    now,
  );
}

/** Stuck until the input changes (e.g. an invalid spec): Stalled=True, Ready=False, Reconciling removed. */
export function markStalled(
  conditions: readonly Condition[] | undefined,
  m: Mark,
  now: Date | number | string,
): Condition[] {
  const list = setCondition(
    removeCondition(conditions, RECONCILING),
    { type: STALLED, status: 'True', ...m },
    now,
  );
  return setCondition(list, { type: READY, status: 'False', ...m }, now);
}

/**
 * What a reconcile concluded about an object, in kstatus terms:
 * - `ready`       → Ready=True
 * - `progressing` → Ready=False, Reconciling=True (work under way; a client should wait)
 * - `stalled`     → Ready=False, Stalled=True (a person must act; a client should stop waiting)
 * - `idle`        → Ready=False only (nothing to do by design, e.g. not exposed on this branch)
 */
export interface Verdict {
  kind: 'ready' | 'progressing' | 'stalled' | 'idle';
  reason: string;
  message: string;
}

/** The verdict as kstatus conditions; `lastTransitionTime` moves only when a status flips. */
export function verdictConditions(
  previous: readonly Readonly<Condition>[] | undefined,
  v: Verdict,
  generation: number | undefined,
  now: Date | number | string,
): Condition[] {
  const m = {
    reason: v.reason,
    message: v.message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  switch (v.kind) {
    case 'ready':
      return markReady(previous, m, now);
    case 'progressing':
      return markNotReady(markReconciling(previous, m, now), m, now);
    case 'stalled':
      return markStalled(previous, m, now);
    case 'idle':
      return setCondition(
        removeCondition(removeCondition(previous, RECONCILING), STALLED),
        { type: READY, status: 'False', ...m },
        now,
      );
  }
}
