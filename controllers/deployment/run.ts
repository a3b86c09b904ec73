/**
 * The shared vocabulary of one reconcile: the resolved options, the controller's memory (which
 * survives between reconciles but not an orun restart), and the per-call `Run` every step takes.
 */
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import { probeHTTP } from '../../runtime/probe/http.ts';
import { CrashBackoff, defaultBackoffPolicy, type BackoffPolicy } from './backoff.ts';
import type { EventType } from '../../runtime/events/index.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { DeploymentDeps } from './deps.ts';
import type { DesiredContainer } from './desired.ts';
import { Gates } from './gates.ts';
import { deploymentMetrics, type DeploymentMetrics } from './metrics.ts';
import { ProbeTracker } from './probes.ts';
import type { DeploymentView } from './spec.ts';
import type { Verdict } from './status.ts';

/** Deps with every default applied (in this one place). */
export type Resolved = Required<Omit<DeploymentDeps, 'registry' | OptionalDeps>> &
  Pick<DeploymentDeps, OptionalDeps>;

type OptionalDeps = 'codeDir' | 'secretHashKey' | 'resolveSecret' | 'secretKeys' | 'secretFiles' | 'nodeName';

export function resolveDeps(d: DeploymentDeps): Resolved {
  return {
    ...d,
    probe: d.probe ?? probeHTTP,
    hasSynced: d.hasSynced ?? (() => true),
    readinessTimeoutMs: d.readinessTimeoutMs ?? 300_000,
    backoff: d.backoff ?? defaultBackoffPolicy,
    stalledRetryMs: d.stalledRetryMs ?? 300_000,
    resyncMs: d.resyncMs ?? 30_000,
    stopTimeoutSeconds: d.stopTimeoutSeconds ?? 10,
  };
}

/** Controller memory, keyed by container id (probes, crashes, restarts) or object key (gates). */
export class Memory {
  readonly probes = new ProbeTracker();
  readonly crash: CrashBackoff;
  readonly gates = new Gates();
  readonly restarts = new Map<string, number>();
  /** Containers we stopped for failing liveness and have not started again (for messages). */
  readonly livenessKills = new Set<string>();
  readonly metrics: DeploymentMetrics;

  constructor(deps: DeploymentDeps, backoff: BackoffPolicy) {
    this.crash = new CrashBackoff(backoff);
    this.metrics = deploymentMetrics(deps.registry);
  }

  /** A container is gone: drop everything we knew about it. */
  forgetContainer(id: string): void {
    this.probes.forget(id);
    this.crash.forget(id);
    this.restarts.delete(id);
    this.livenessKills.delete(id);
  }
}

export interface Run {
  key: string;
  name: string;
  obj: DeploymentView;
  desired: DesiredContainer;
  signal: AbortSignal;
  log: Logger;
  deps: Resolved;
  mem: Memory;
  event(type: EventType, reason: string, message: string): void;
}

/** What a step concluded: the status verdict, the container it is about, and when to look again. */
export interface Outcome {
  verdict: Verdict;
  container?: ContainerInfo;
  requeueAfter?: number;
  /** Set by a step that closed the stall gate; any other outcome opens it. */
  held?: boolean;
}

/** `90s`, `5m`, `2m30s`: for messages. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
}
