/**
 * Status from the reconcile's verdict, as kstatus conditions:
 * - ready       → Ready=True
 * - progressing → Ready=False, Reconciling=True (pulling, starting, waiting for readiness)
 * - stalled     → Ready=False, Stalled=True (needs a person, a spec change or a slow retry:
 *                 pull failure, port conflict, bad mount, crash loop, readiness timeout)
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { markNotReady, markReady, markReconciling, markStalled } from '../../runtime/conditions/index.ts';
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
  Replacing: 'Replacing',
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
    conditions: verdictConditions(i.previous?.conditions, i.verdict, i.generation, i.now),
    ready: i.verdict.kind === 'ready',
    restarts: i.restarts,
  };
  if (c !== undefined) {
    status.containerID = c.id;
    status.containerName = c.name;
    status.image = c.image;
    status.imageID = c.imageId;
    if (c.startedAt !== undefined) status.startedAt = c.startedAt;
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

/**
 * The verdict as kstatus conditions, via runtime/conditions (Reconciling and Stalled are present
 * only while True). Progressing also sets Ready=False: a replaced container is not the old one.
 */
export function verdictConditions(
  previous: readonly Readonly<Condition>[] | undefined,
  v: Verdict,
  generation: number | undefined,
  now: number,
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
  }
}

/** Equal apart from nothing: used to skip no-op status writes. */
export function sameStatus(
  a: DeepReadonly<DeploymentStatusView> | undefined,
  b: DeploymentStatusView,
): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
