/**
 * A ServiceGraph's status from its executor's service rows, as kstatus conditions:
 * - every selected service running (healthy, when it has a HEALTHCHECK) or a ONESHOT completed
 *   → Ready=True;
 * - a service failed, gave up, is blocked, exited for good or stopped → Stalled=True (a person
 *   must look; the graph is not restarted until its config changes);
 * - otherwise (pending, starting, restarting) → Reconciling=True, Ready=False;
 * - Orchfile errors → Stalled=True with every error, services untouched.
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type {
  GraphServiceStatus,
  ServiceGraphStatus,
} from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import {
  conditionTime,
  markNotReady,
  markReady,
  markReconciling,
  markStalled,
  markUnknown,
} from '../../runtime/conditions/index.ts';
import type { ServiceState, ServiceStatus } from '../../runtime/graph/index.ts';
import type { DeepReadonly } from '../../runtime/store/index.ts';

export const Reason = {
  Ready: 'ServicesReady',
  Progressing: 'Progressing',
  WaitingForCheckout: 'WaitingForCheckout',
  OrchfileInvalid: 'OrchfileInvalid',
  ServiceFailed: 'ServiceFailed',
  EngineUnavailable: 'EngineUnavailable',
} as const;

export interface Verdict {
  kind: 'ready' | 'progressing' | 'stalled';
  reason: string;
  message: string;
}

const STATE_NAMES: Record<ServiceState, string> = {
  pending: 'Pending',
  starting: 'Starting',
  running: 'Running',
  restarting: 'Restarting',
  completed: 'Completed',
  exited: 'Exited',
  failed: 'Failed',
  'gave-up': 'GaveUp',
  blocked: 'Blocked',
  stopping: 'Stopping',
  stopped: 'Stopped',
};

const STALLED_STATES: ReadonlySet<ServiceState> = new Set([
  'exited',
  'failed',
  'gave-up',
  'blocked',
  'stopped',
]);

/** Ready: running and healthy (or without HEALTHCHECK), or a ONESHOT that completed. */
export function isReady(s: ServiceStatus): boolean {
  return (
    (s.state === 'running' && s.health !== 'unhealthy' && s.health !== 'starting') || s.state === 'completed'
  );
}

/**
 * Status rows (what `orunctl describe` tabulates). `since` (whole seconds) is when the executor
 * saw the service enter its state: after an orun restart, the adoption.
 */
export function serviceRows(services: readonly ServiceStatus[]): GraphServiceStatus[] {
  return services.map((s) => {
    const since = s.since === undefined ? undefined : conditionTime(s.since);
    return {
      name: s.name,
      mode: s.mode,
      state: STATE_NAMES[s.state],
      ready: isReady(s),
      restarts: s.restarts,
      ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }),
      ...(since === undefined ? {} : { since }),
      ...(s.containerId === undefined ? {} : { containerID: s.containerId }),
      ...(s.pid === undefined ? {} : { pid: s.pid }),
      ...(s.message === '' ? {} : { message: s.message }),
      ...(s.lastError === undefined || s.lastError === '' ? {} : { lastError: s.lastError }),
    };
  });
}

export function verdictOf(services: readonly ServiceStatus[]): Verdict {
  const stalled = services.filter((s) => STALLED_STATES.has(s.state));
  if (stalled.length > 0) {
    return {
      kind: 'stalled',
      reason: Reason.ServiceFailed,
      message: stalled
        .map((s) => `${s.name} ${s.state}${s.message === '' ? '' : `: ${s.message}`}`)
        .join('; '),
    };
  }
  const waiting = services.filter((s) => !isReady(s));
  if (waiting.length > 0) {
    return {
      kind: 'progressing',
      reason: Reason.Progressing,
      message: `waiting for ${waiting.map((s) => `${s.name} (${s.state})`).join(', ')}`,
    };
  }
  return { kind: 'ready', reason: Reason.Ready, message: `${services.length} services ready` };
}

/**
 * The status while the container engine does not answer (a graph with container services): the
 * last known services, with Ready=Unknown/EngineUnavailable saying the truth. Reconciling and
 * Stalled stay as they were: an outage is neither progress nor a failure of the graph (as a
 * Deployment's status says it, controllers/deployment status.ts).
 */
export function engineUnavailableStatus(
  previous: DeepReadonly<ServiceGraphStatus> | undefined,
  message: string,
  now: number,
): ServiceGraphStatus {
  const prev = structuredClone(previous ?? {}) as ServiceGraphStatus;
  return {
    ...prev,
    conditions: markUnknown(previous?.conditions, { reason: Reason.EngineUnavailable, message }, now),
  };
}

export function buildStatus(f: {
  generation: number | undefined;
  verdict: Verdict;
  services: GraphServiceStatus[] | undefined;
  previous: DeepReadonly<ServiceGraphStatus> | undefined;
  now: number;
}): ServiceGraphStatus {
  const m = {
    reason: f.verdict.reason,
    message: f.verdict.message,
    ...(f.generation === undefined ? {} : { observedGeneration: f.generation }),
  };
  const prev = f.previous?.conditions;
  let conditions: Condition[];
  if (f.verdict.kind === 'ready') conditions = markReady(prev, m, f.now);
  else if (f.verdict.kind === 'stalled') conditions = markStalled(prev, m, f.now);
  else conditions = markNotReady(markReconciling(prev, m, f.now), m, f.now);
  return {
    ...(f.generation === undefined ? {} : { observedGeneration: f.generation }),
    conditions,
    ...(f.services === undefined ? {} : { services: f.services }),
  };
}
