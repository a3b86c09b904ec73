/**
 * The shared vocabulary of one reconcile: the resolved options, the controller's memory (which
 * survives between reconciles but not an orun restart), and the per-call `Run` every step takes.
 */
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import { DEFAULT_PROGRESS_DEADLINE_SECONDS } from '../../apis/run.orcra.dev/v0alpha/workload.ts';
import { probeHTTP } from '../../runtime/probe/http.ts';
import { probeTCP } from '../../runtime/probe/tcp.ts';
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
type OptionalDeps =
  | 'codeDir'
  | 'secretHashKey'
  | 'resolveSecret'
  | 'secretKeys'
  | 'secretFiles'
  | 'nodeName'
  | 'ingress'
  | 'networkName';
export type Resolved = Required<Omit<DeploymentDeps, 'registry' | OptionalDeps>> &
  Pick<DeploymentDeps, OptionalDeps>;

export function resolveDeps(d: DeploymentDeps): Resolved {
  return {
    ...d,
    probe: d.probe ?? probeHTTP,
    tcpProbe: d.tcpProbe ?? probeTCP,
    hasSynced: d.hasSynced ?? (() => true),
    readinessTimeoutMs: d.readinessTimeoutMs ?? DEFAULT_PROGRESS_DEADLINE_SECONDS * 1000,
    drainMs: d.drainMs ?? 2_000,
    switchTimeoutMs: d.switchTimeoutMs ?? 30_000,
    backoff: d.backoff ?? defaultBackoffPolicy,
    stalledRetryMs: d.stalledRetryMs ?? 300_000,
    resyncMs: d.resyncMs ?? 300_000,
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
  /** New container id → when this process first saw it in a rollout (for the progress deadline). */
  readonly rolloutSince = new Map<string, number>();
  /** New container id → when it served ready, and when the ingress was seen routing to it. */
  readonly switches = new Map<string, { readyAt: number; switchedAt?: number }>();
  /**
   * Object key → the rollout (`<spec hash>@<source commit>`) that missed its progress deadline,
   * with its verdict: not tried again until the spec or the commit changes. Lost on restart
   * (the rollout is then tried once more).
   */
  readonly failedRollouts = new Map<string, { id: string; verdict: Verdict }>();
  /**
   * Object key → the spec hash whose container runs alone and whose secret-file dirs of other
   * hashes were pruned: a settled Deployment does not list its tmpfs dir at every resync (that
   * readdir was a quarter of an idle agent's CPU). Cleared when a rollout starts.
   */
  readonly secretsPruned = new Map<string, string>();
  /** Containers started by a reconcile whose engine `start` event has not come back yet. */
  readonly ownStarts = new Set<string>();
  /** The node network exists (checked once per process). */
  networkReady = false;
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
    this.rolloutSince.delete(id);
    this.switches.delete(id);
    this.ownStarts.delete(id);
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
  /** Containers of this Deployment alive now (running, restarting, paused), by id; steps keep it current. */
  alive: Map<string, ContainerInfo>;
  event(type: EventType, reason: string, message: string): void;
}

/** What a step concluded: the status verdict, the container it is about, and when to look again. */
export interface Outcome {
  verdict: Verdict;
  /** The container the verdict is about (during a rollout: the new one). */
  container?: ContainerInfo;
  /**
   * The ready container traffic goes to, when it is not `container` (an old one during a rollout).
   * Unset: `container` when the verdict is ready, else the old container the last status served,
   * while it is still alive.
   */
  serving?: ContainerInfo;
  requeueAfter?: number;
  /** Set by a step that closed the stall gate; any other outcome opens it. */
  held?: boolean;
}
