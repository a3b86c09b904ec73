/**
 * What the Deployment controller needs from the rest of orun, declared by the user (STYLE.md):
 * small interfaces that the runtime's real parts satisfy structurally, and that tests fake.
 */
import type { Registry } from 'prom-client';
import type { Clock as RuntimeClock } from '../../runtime/clock/index.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import type { RecordEvent } from '../../runtime/events/index.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { SecretKeys, SecretResolver } from './desired.ts';
import type { DeploymentStatusView, DeploymentView } from './spec.ts';

/** The engine calls this controller makes (runtime/docker `ContainerEngine` satisfies it). */
export type DeploymentEngine = Pick<
  ContainerEngine,
  | 'listContainers'
  | 'inspectContainer'
  | 'imageExists'
  | 'pullImage'
  | 'buildImage'
  | 'createContainer'
  | 'startContainer'
  | 'stopContainer'
  | 'restartContainer'
  | 'removeContainer'
  | 'unpauseContainer'
  | 'execContainer'
  | 'ensureNetwork'
  | 'connectNetwork'
  | 'inspectNetwork'
  | 'removeNetwork'
>;

/** Secret files on a tmpfs (runtime/secretfs `TmpfsSecretFiles` satisfies it). */
export interface SecretFileStore {
  dir(deployment: string, hash: string): string;
  write(
    deployment: string,
    hash: string,
    files: readonly {
      name: string;
      value: { reveal(): string };
      /** Without it: root's, mode 0400. */
      owner?: { uid: number; gid: number; mode: number };
    }[],
  ): Promise<void>;
  prune(deployment: string, keepHash?: string): Promise<void>;
}

/** Desired state and the status sink (runtime Store). Objects handed out may be frozen. */
export interface DeploymentStore {
  /** The Deployment under `Deployment/<name>`, or undefined once deleted. */
  get(key: string): DeploymentView | undefined;
  /** Replaces `.status`; must not re-trigger a spec reconcile. */
  updateStatus(key: string, status: DeploymentStatusView): unknown;
}

/** Milliseconds since the epoch. Only `now` is needed: waiting is done by requeueAfter. */
export type Clock = Pick<RuntimeClock, 'now'>;

/** One HTTP GET; 2xx/3xx is success. Resolves (never rejects) on failure. runtime/probe `probeHTTP` is one. */
export type HttpProber = (options: {
  /** Default http. */
  scheme?: 'http' | 'https';
  /** The container's IP (or 127.0.0.1 with the published port when it has none). */
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  signal: AbortSignal;
}) => Promise<{ ok: boolean; statusCode?: number; message: string }>;

/** One TCP connect; resolves (never rejects). runtime/probe `probeTCP` is one. */
export type TcpProber = (options: {
  host: string;
  port: number;
  timeoutMs: number;
  signal: AbortSignal;
}) => Promise<{ ok: boolean; message: string }>;

/**
 * What the ingress serves now, so a start-first rollout stops the old container only once traffic
 * has moved (cmd wires it to the Service controller).
 */
export interface IngressView {
  /**
   * The `host:port` upstreams the running ingress config proxies to for Services of Deployment
   * `deployment` (empty: none routes to it).
   */
  upstreamsOf(deployment: string): readonly string[];
}

export interface DeploymentDeps {
  engine: DeploymentEngine;
  store: DeploymentStore;
  recordEvent: RecordEvent;
  clock: Clock;
  /** Default: runtime/probe `probeHTTP`. */
  probe?: HttpProber;
  /** Default: runtime/probe `probeTCP`. */
  tcpProbe?: TcpProber;
  /**
   * The ingress, when this node runs one. A start-first rollout waits (at most `switchTimeoutMs`)
   * until it proxies to the new container before draining the old one. Default: none (no wait).
   */
  ingress?: IngressView;
  /**
   * The node-wide Docker network every container joins, with its Deployment's name as DNS alias.
   * Created when missing. Default: none (the engine's default bridge).
   */
  networkName?: string;
  /** After traffic moved to the new container, how long the old one keeps running for requests in flight. Default 2 s. */
  drainMs?: number;
  /** Longest wait for the ingress to switch to a new container before draining anyway. Default 30 s. */
  switchTimeoutMs?: number;
  /** Metrics are registered here. Default: none recorded. */
  registry?: Registry;
  /**
   * False until the store holds the first full snapshot. While false, a missing Deployment is
   * not pruned (an empty store at boot must not delete everything). Default: always synced.
   */
  hasSynced?: () => boolean;
  /**
   * Build contexts resolve under it (Node `codeDir`). Read at every reconcile, so a Node
   * manifest that changes it applies to the next build. Default: working directory.
   */
  codeDir?: () => string | undefined;
  /** Crash-loop back-off; also used for image pull/build retries. Default 10 s ×2 → 5 min, reset after 10 min. */
  backoff?: BackoffPolicy;
  /** Longest retry delay for stalls a person must fix (port conflict, bad mount, name taken); retries back off to it. Default 5 min. */
  stalledRetryMs?: number;
  /**
   * The progress deadline when a Deployment sets no `progressDeadlineSeconds`: from its start until
   * a never-ready new container is given up (removed when an old one serves, else reported
   * `Stalled` and still probed). Default 5 min (apis DEFAULT_PROGRESS_DEADLINE_SECONDS).
   */
  readinessTimeoutMs?: number;
  /**
   * Re-check of a ready container with no liveness probe: catches what no engine event reports
   * (a missed exit while the event stream was down, a network detached by hand). Default 5 min:
   * exits come through engine events at once, and at 30 s, 500 Deployments asked for 17 reconciles
   * a second at rest, more than a loaded engine answered (bench/agent-scale.ts: 97 keys still
   * queued after all were Ready).
   */
  resyncMs?: number;
  /**
   * SIGTERM→SIGKILL grace when stopping a container whose Deployment is gone (prune); otherwise the
   * container's own `stopGracePeriod` applies. Default 10 s.
   */
  stopTimeoutSeconds?: number;
  /** Keys secret digests in the spec hash. Default a fixed string. */
  secretHashKey?: string;
  /**
   * Plaintext of inline `ENC[...]` env values, when the store keeps ciphertext (the loader
   * registers what it decrypted). Env values that are already SecretStrings need nothing.
   * Default: none, so an `ENC[...]` value stalls the Deployment (`SecretNotDecrypted`).
   */
  resolveSecret?: SecretResolver;
  /** The root secrets.yaml's values (`secretKeyRef`, `envFrom`, `secretFiles`). Default: none, so those stall. */
  secretKeys?: SecretKeys;
  /** Where `secretFiles` are written (runtime/secretfs, a tmpfs). Default: none, so those stall. */
  secretFiles?: SecretFileStore;
  /**
   * This node's name. Containers are labelled with it and only containers carrying it are
   * observed, adopted or pruned. Default: none, so every orun-managed container on the engine
   * counts as this controller's (one agent per engine).
   */
  nodeName?: string;
}
