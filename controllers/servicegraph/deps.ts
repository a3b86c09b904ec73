/**
 * What the ServiceGraph controller needs from the rest of orun (STYLE.md: small interfaces
 * declared by the user; the real parts satisfy them structurally, tests pass fakes).
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../../runtime/clock/index.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import type { RecordEvent } from '../../runtime/events/index.ts';
import type { HealthChecker } from '../../runtime/graph/index.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { ProcessRunner } from '../../runtime/process/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { Checkout } from './desired.ts';

/** Records an event on `ServiceGraph/<name>`. Messages carry service names, states, pids, ids. */
export type { EventType, RecordEvent } from '../../runtime/events/index.ts';

export interface ServiceGraphDeps {
  store: Pick<Store, 'getByKey' | 'updateStatus' | 'hasSynced'>;
  /** Container services (runtime/docker DockerEngine, or FakeEngine). */
  engine: ContainerEngine;
  /** Host services (runtime/process NodeProcessRunner, or FakeProcessRunner). */
  processes: ProcessRunner;
  /** Waiting (readiness, restart delays, stop grace) goes through it. */
  clock: Clock;
  /**
   * The checkout of the revision the store holds (the informer's applied one), or undefined while
   * there is none or a newer one is being checked out. Orchfiles are read from it.
   */
  checkout: () => Checkout | undefined;
  /** Per graph `<dataDir>/servicegraphs/<name>/`: run state, host logs, ORCH_DATA, named volumes. */
  dataDir: string;
  /** This node: the `run.orcra.dev/node` label; only containers carrying it are touched. */
  nodeName: string;
  recordEvent: RecordEvent;
  /** Enqueues a key: executor state changes make the status follow. */
  enqueue: (key: string) => void;
  /** `orun_servicegraph_services` is registered here. Default: none recorded. */
  registry?: Registry;
  /** Default: silent. Executor events are logged here. */
  logger?: Logger;
  /** Reads an Orchfile (and ENV_FILE). Default: fs.readFileSync utf8. */
  readFile?: (path: string) => string;
  /** Tells a reused pid apart (see state.ts `procIdentity`). Default: procIdentity (Linux /proc). */
  processIdentity?: (pid: number) => string | undefined;
  /** Environment host services start from. Default: process.env. */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Default: runtime/graph's (HTTP probe or `sh -c`). */
  healthChecker?: HealthChecker;
  /** Pause between failed readiness checks. Default 500. */
  healthIntervalMs?: number;
  /** Liveness poll of adopted host processes. Default 1000. */
  adoptPollMs?: number;
  /** Retry while no checkout is available. Default 1000. */
  checkoutRetryMs?: number;
  /**
   * Whether the container engine answers (runtime/docker EngineHealth `status`). While it does not,
   * a graph with container services says Ready=Unknown/EngineUnavailable and nothing is changed.
   * Default: only a call that fails says so.
   */
  engineStatus?: () => { available: boolean | undefined; message: string };
  /** Look again this often while the engine does not answer. Default 10 000. */
  engineRecheckMs?: number;
}
