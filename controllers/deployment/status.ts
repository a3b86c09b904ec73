/**
 * Status from the reconcile's verdict. Three kstatus conditions, always all present:
 * - ready      → Ready=True,  Reconciling=False, Stalled=False
 * - progressing→ Ready=False, Reconciling=True,  Stalled=False (pulling, starting, waiting for readiness)
 * - stalled    → Ready=False, Reconciling=False, Stalled=True  (needs a person or a spec change:
 *                pull failure, port conflict, bad mount, crash loop, readiness timeout)
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import type { Condition, ConditionStatus } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import type { ProbeResult } from './probes.ts';
import type { DeepReadonly } from '../../runtime/store/freeze.ts';
import type { DeploymentStatusView } from './spec.ts';

export type Verdict =
  | { kind: 'ready'; reason: string; message: string }
  | { kind: 'progressing'; reason: string; message: string }
  | { kind: 'stalled'; reason: string; message: string };

/** Stable reasons (CamelCase). Clients may branch on these. */
export const Reason = {
  Ready: 'ContainerReady',
  Unhealthy: 'Unhealthy',
  Pulling: 'Pulling',
  Building: 'Building',
  Creating: 'Creating',
  Starting: 'Starting',
  WaitingForReadiness: 'WaitingForReadiness',
  ReadinessTimeout: 'ReadinessTimeout',
  ImagePullFailed: 'ImagePullFailed',
  SecretNotDecrypted: 'SecretNotDecrypted',
  ImageNeverPull: 'ErrImageNeverPull',
  BuildFailed: 'BuildFailed',
  HostPortConflict: 'HostPortConflict',
  InvalidMount: 'InvalidMount',
  NameConflict: 'NameConflict',
  CrashLoopBackOff: 'CrashLoopBackOff',
  Restarting: 'Restarting',
  EngineError: 'EngineError',
} as const;

export interface StatusInput {
  generation: number | undefined;
  verdict: Verdict;
  container?: ContainerInfo;
  specHash?: string;
  restarts: number;
  probe?: ProbeResult;
  now: number;
  previous?: DeepReadonly<DeploymentStatusView>;
}

export function buildStatus(i: StatusInput): DeploymentStatusView {
  const c = i.container;
  const status: DeploymentStatusView = {
    observedGeneration: i.generation,
    conditions: mergeConditions(i.previous?.conditions, verdictConditions(i.verdict), i.generation, i.now),
    ready: i.verdict.kind === 'ready',
    restarts: i.restarts,
  };
  if (c !== undefined) {
    status.containerID = c.id;
    status.containerName = c.name;
    status.image = c.image;
    status.imageID = c.imageId;
    status.ports = c.ports.map((p) => ({
      containerPort: p.containerPort,
      port: p.hostPort,
      protocol: p.protocol,
    }));
  }
  if (i.specHash !== undefined) status.specHash = i.specHash;
  if (i.probe !== undefined) {
    const p = i.probe;
    status.lastProbe = {
      probe: p.type,
      time: new Date(p.time).toISOString(),
      ok: p.ok,
      ...(p.statusCode === undefined ? {} : { statusCode: p.statusCode }),
      message: p.message,
    };
  } else if (c !== undefined && i.previous?.containerID === c.id && i.previous.lastProbe !== undefined) {
    status.lastProbe = { ...i.previous.lastProbe };
  }
  return status;
}

type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

export function verdictConditions(v: Verdict): ConditionInput[] {
  const cond = (type: string, on: boolean): ConditionInput => ({
    type,
    status: on ? 'True' : 'False',
    reason: v.reason,
    message: v.message,
  });
  return [
    cond('Ready', v.kind === 'ready'),
    cond('Reconciling', v.kind === 'progressing'),
    cond('Stalled', v.kind === 'stalled'),
  ];
}

/** New conditions, keeping `lastTransitionTime` of those whose status did not flip. */
export function mergeConditions(
  previous: readonly Readonly<Condition>[] | undefined,
  next: readonly ConditionInput[],
  generation: number | undefined,
  now: number,
): Condition[] {
  const nowIso = new Date(now).toISOString();
  return next.map((n) => {
    const p = previous?.find((c) => c.type === n.type);
    const status: ConditionStatus = n.status;
    return {
      type: n.type,
      status,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime: p !== undefined && p.status === status ? p.lastTransitionTime : nowIso,
      reason: n.reason,
      message: n.message,
    };
  });
}

/** Equal apart from nothing: used to skip no-op status writes. */
export function sameStatus(
  a: DeepReadonly<DeploymentStatusView> | undefined,
  b: DeploymentStatusView,
): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
