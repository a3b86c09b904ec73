/**
 * Status from the reconcile's verdict, as kstatus conditions:
 * - ready       → Ready=True
 * - progressing → Ready=False, Reconciling=True (pulling, starting, waiting for readiness)
 * - stalled     → Ready=False, Stalled=True (needs a person, a spec change or a slow retry:
 *                 pull failure, port conflict, bad mount, crash loop, readiness timeout)
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import {
  markUnknown,
  verdictConditions,
  type Verdict as KstatusVerdict,
} from '../../runtime/conditions/index.ts';
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import type { ProbeResult } from './probes.ts';
import type { DeepReadonly } from '../../runtime/store/freeze.ts';
import type { DeploymentStatusView } from './spec.ts';

/** A Deployment is never `idle`: it always wants a running container. */
export type Verdict = KstatusVerdict & { kind: 'ready' | 'progressing' | 'stalled' };

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
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  RollingUpdate: 'RollingUpdate',
  SwitchingTraffic: 'SwitchingTraffic',
  Draining: 'Draining',
  Recreating: 'Recreating',
  ImagePullFailed: 'ImagePullFailed',
  SecretNotDecrypted: 'SecretNotDecrypted',
  SecretFilesUnavailable: 'SecretFilesUnavailable',
  ImageNeverPull: 'ErrImageNeverPull',
  BuildFailed: 'BuildFailed',
  HostPortConflict: 'HostPortConflict',
  InvalidMount: 'InvalidMount',
  NameConflict: 'NameConflict',
  CrashLoopBackOff: 'CrashLoopBackOff',
  Restarting: 'Restarting',
  EngineError: 'EngineError',
  /** The engine does not answer: Ready=Unknown, the last known facts kept, nothing changed. */
  EngineUnavailable: 'EngineUnavailable',
  /** The engine refuses the configuration (DockerErrorCode.InvalidSpec): Stalled until the spec changes. */
  ContainerSpecInvalid: 'ContainerSpecInvalid',
  /** The process cannot start (user, executable, env; DockerErrorCode.CannotRun): Stalled until the spec or image changes. */
  ContainerCannotRun: 'ContainerCannotRun',
} as const;

export interface StatusInput {
  generation: number | undefined;
  verdict: Verdict;
  /** The container the status names: the one traffic goes to, else the one being started. */
  container?: ContainerInfo;
  /** A ready container serves (the route has an upstream). Default: the verdict is ready. */
  ready?: boolean;
  /** The serving container's address on the node network. */
  ip?: string;
  strategy?: 'RollingUpdate' | 'Recreate';
  /** The new container of a rollout in progress, when it does not serve yet (or yet alone). */
  rollout?: { container: ContainerInfo; phase: string };
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
    ready: i.ready ?? i.verdict.kind === 'ready',
    restarts: i.restarts,
  };
  if (i.ip !== undefined) status.ip = i.ip;
  if (i.strategy !== undefined) status.strategy = i.strategy;
  if (i.rollout !== undefined) {
    const r = i.rollout.container;
    status.rollout = {
      containerID: r.id,
      containerName: r.name,
      phase: i.rollout.phase,
      since: r.createdAt,
    };
  }
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

/** Equal apart from nothing: used to skip no-op status writes. */
export function sameStatus(
  a: DeepReadonly<DeploymentStatusView> | undefined,
  b: DeploymentStatusView,
): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The status while the engine does not answer: what was last known (container, ready, ip: the
 * ingress keeps routing to a container that most likely still runs), with Ready=Unknown saying
 * the truth. Reconciling and Stalled stay as they were: an outage is neither progress nor a
 * failure of the Deployment.
 */
export function engineUnavailableStatus(
  previous: DeepReadonly<DeploymentStatusView> | undefined,
  message: string,
  now: number,
): DeploymentStatusView {
  const prev = structuredClone(previous ?? {}) as DeploymentStatusView;
  return {
    ...prev,
    ready: prev.ready ?? false,
    restarts: prev.restarts ?? 0,
    conditions: markUnknown(previous?.conditions, { reason: Reason.EngineUnavailable, message }, now),
  };
}
