/**
 * Which status changes are worth a message: kind-agnostic, read from kstatus conditions.
 *  - RolloutSucceeded: `Ready` became True for the current generation after this agent saw it
 *    not ready (a restart that adopts running containers sends nothing);
 *  - RolloutFailed: `Ready` became False with a failure reason, not while in progress (kstatus:
 *    `Reconciling` True, or an in-progress reason such as a rollout phase);
 *  - Stalled: `Stalled` became True (needs a person);
 *  - SyncFailed: the Node's `GitSynced` or `ManifestsValid` became False.
 * Each is sent once per generation and reason.
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';

export const NOTIFY_EVENTS = ['RolloutSucceeded', 'RolloutFailed', 'Stalled', 'SyncFailed'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Ready=False reasons that mean "in progress", not "failed". */
const PROGRESSING = new Set([
  'Pulling',
  'Building',
  'Creating',
  'Replacing',
  'Starting',
  'WaitingForReadiness',
  'Restarting',
  'Progressing',
  'Reconciling',
  // rollout phases (controllers/deployment/strategy.ts)
  'RollingUpdate',
  'SwitchingTraffic',
  'Draining',
  'Recreating',
]);

/** The part of an object a classification reads. */
export interface StatusView {
  kind: string;
  name: string;
  generation?: number;
  observedGeneration?: number;
  conditions: readonly Condition[];
}

export interface Notice {
  event: NotifyEvent;
  kind: string;
  name: string;
  reason: string;
  message: string;
  generation?: number;
}

const cond = (v: StatusView | undefined, type: string): Condition | undefined =>
  v?.conditions.find((c) => c.type === type);

/** The notices a change from `prev` (undefined: first seen) to `next` deserves. */
export function classify(prev: StatusView | undefined, next: StatusView): Notice[] {
  if (prev === undefined) return [];
  const out: Notice[] = [];
  const base = {
    kind: next.kind,
    name: next.name,
    ...(next.generation === undefined ? {} : { generation: next.generation }),
  };
  const flipped = (type: string, to: 'True' | 'False'): Condition | undefined => {
    const now = cond(next, type);
    const was = cond(prev, type);
    if (now?.status !== to) return undefined;
    return was?.status === to &&
      was.reason === now.reason &&
      prev.observedGeneration === next.observedGeneration
      ? undefined
      : now;
  };
  if (next.kind === 'Node') {
    for (const type of ['GitSynced', 'ManifestsValid']) {
      const c = flipped(type, 'False');
      if (c !== undefined) out.push({ ...base, event: 'SyncFailed', reason: c.reason, message: c.message });
    }
    return out;
  }
  const stalled = flipped('Stalled', 'True');
  if (stalled !== undefined) {
    out.push({ ...base, event: 'Stalled', reason: stalled.reason, message: stalled.message });
    return out;
  }
  const current = next.generation === undefined || next.observedGeneration === next.generation;
  const readyNow = cond(next, 'Ready');
  const readyBefore = cond(prev, 'Ready');
  // Ready=Unknown says only that nothing could be observed (the engine was away): its end is no rollout.
  const observed = readyBefore !== undefined && readyBefore.status !== 'Unknown';
  if (readyNow?.status === 'True' && current && readyBefore?.status !== 'True' && observed)
    out.push({ ...base, event: 'RolloutSucceeded', reason: readyNow.reason, message: readyNow.message });
  const failed = flipped('Ready', 'False');
  const inProgress = cond(next, 'Reconciling')?.status === 'True';
  if (failed !== undefined && !inProgress && !PROGRESSING.has(failed.reason))
    out.push({ ...base, event: 'RolloutFailed', reason: failed.reason, message: failed.message });
  return out;
}
