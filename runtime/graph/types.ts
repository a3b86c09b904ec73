/**
 * What the service-graph executor reports: one state per service, state-change events and a
 * status row per service (what `orch status` prints and the ServiceGraph controller writes).
 */
import type { ServiceMode } from '../../apis/orchfile/index.ts';

/**
 * - `pending`: waiting for its REQUIRES/AFTER services;
 * - `starting`: spawned/created, waiting for its HEALTHCHECK (or for a ONESHOT to exit);
 * - `running`: up (and healthy when it has a HEALTHCHECK);
 * - `restarting`: waiting RESTART_DELAY before the next start;
 * - `completed`: a ONESHOT that exited 0;
 * - `exited`: ended by itself and its RESTART policy does not bring it back;
 * - `failed`: could not start, never became healthy, or exited non-zero with no restart;
 * - `gave-up`: restarted START_LIMIT_BURST times within START_LIMIT_INTERVAL;
 * - `blocked`: a REQUIRES service failed, so this one was not (re)started;
 * - `stopping` / `stopped`: being stopped / stopped by `down` or Ctrl-C.
 */
export type ServiceState =
  | 'pending'
  | 'starting'
  | 'running'
  | 'restarting'
  | 'completed'
  | 'exited'
  | 'failed'
  | 'gave-up'
  | 'blocked'
  | 'stopping'
  | 'stopped';

/** States a service leaves only through `stop()`: nothing more will happen to it on its own. */
export const TERMINAL_STATES: ReadonlySet<ServiceState> = new Set([
  'completed',
  'exited',
  'failed',
  'gave-up',
  'blocked',
  'stopped',
]);

/** `healthy`/`unhealthy`/`starting` for services with a HEALTHCHECK; `''` without one. */
export type HealthState = 'healthy' | 'unhealthy' | 'starting' | '';

export interface ServiceStatus {
  readonly name: string;
  readonly mode: ServiceMode;
  readonly state: ServiceState;
  readonly health: HealthState;
  /** Host services: the pid (also the process group id) of the current process. */
  readonly pid?: number;
  /** Container services: the container's id and name. */
  readonly containerId?: string;
  readonly containerName?: string;
  /** Restarts done by the RESTART policy (not counting the first start). */
  readonly restarts: number;
  /** The last exit code, once the service has exited at least once. */
  readonly exitCode?: number;
  /** Why it is in this state, for people (`required service db failed`, `exit code 3`). */
  readonly message: string;
  /** Epoch ms of the current instance's start. */
  readonly startedAt?: number;
  /** Epoch ms of the last state change. */
  readonly since?: number;
  /** Why it last failed (an exit code, a failed health check, a blocked dependency), kept across restarts. */
  readonly lastError?: string;
}

export interface GraphEvent {
  /** Epoch ms (the injected clock). */
  readonly time: number;
  readonly service: string;
  readonly state: ServiceState;
  readonly message: string;
  /** A warning about something orch cannot do (an unsupported option), not a state change. */
  readonly warning?: boolean;
  /**
   * Set on a running service's health change (the HEALTHCHECK re-checked while it runs): the
   * state stays `running`.
   */
  readonly health?: HealthState;
}

/**
 * What an earlier executor left running for one service (its `detach()` status), to be taken over
 * instead of started again (GraphExecutorOptions.adopt).
 */
export interface AdoptRecord {
  /** Host services: the process group leader left running. Adopted when its group is still alive. */
  readonly pid?: number;
  /**
   * Container services: the container left running. It is adopted when it still runs with the same
   * config hash, even under RECREATE always (a running instance is taken over, not recreated).
   */
  readonly containerId?: string;
  /** Restarts counted so far (carried over). Default 0. */
  readonly restarts?: number;
}

/** A running instance of a service, as the drivers hand it to the executor. */
export interface Instance {
  readonly pid?: number;
  readonly containerId?: string;
  readonly containerName?: string;
  readonly startedAt: number;
  /** Resolves when it ends by itself or is stopped; never rejects. Code null: killed by a signal or unknown. */
  readonly exited: Promise<{ code: number | null }>;
  /** Graceful stop (STOP command / SIGTERM, SIGKILL after TIMEOUT_STOP); resolves once it is gone. */
  stop(): Promise<void>;
  /** Stops watching it and leaves it running (detach). */
  release(): Promise<void>;
}
