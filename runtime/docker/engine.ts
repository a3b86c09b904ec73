/**
 * The container engine as the controllers see it: a small interface, with a real implementation
 * (`dockerode.ts`, any Docker-API socket: dockerd or Podman) and an in-memory fake (`fake.ts`)
 * side by side. One contract suite (`engine.contract.ts`) runs against both, so the fake cannot drift.
 *
 * Every method rejects with an `OrunError` whose `code` is one of {@link DockerErrorCode}; callers
 * branch on the code, never on the message.
 */

/** Stable error codes raised by every {@link ContainerEngine}. */
export const DockerErrorCode = {
  /** The engine socket cannot be reached (dockerd down, wrong DOCKER_HOST). */
  Unavailable: 'DockerUnavailable',
  /** `createContainer`: the image is not present locally (pull it first). */
  ImageNotFound: 'ImageNotFound',
  /** `pullImage`: the registry refused or could not be reached; the message carries the registry's text. */
  ImagePullFailed: 'ImagePullFailed',
  /** `buildImage`: a step failed (message names the step) or the context could not be read. */
  ImageBuildFailed: 'ImageBuildFailed',
  /** `createContainer`: a container with this name already exists. */
  NameConflict: 'NameConflict',
  /** `createContainer`: a bind's host path is missing or not absolute. Not retryable until Git changes. */
  InvalidMount: 'InvalidMount',
  /** `startContainer`/`restartContainer`: a published host port is already taken. */
  HostPortConflict: 'HostPortConflict',
  /** A container id/name that does not exist (operations other than inspect/stop/remove). */
  ContainerNotFound: 'ContainerNotFound',
  /**
   * `createContainer`/`startContainer`: the host cannot apply a requested resource control (e.g. a
   * blkio/IO weight on a cgroup v2 host without the io controller). `context.resource` names it
   * (`blkioWeight`) when known; the caller may retry without it and warn.
   */
  ResourceUnsupported: 'ContainerResourceUnsupported',
  /**
   * `createContainer`/`startContainer`: the engine refused the container's configuration (HTTP
   * 400: a memory limit under 6 MB, more CPUs than the host has, conflicting options). Permanent:
   * no retry fixes it until the spec changes.
   */
  InvalidSpec: 'ContainerSpecInvalid',
  /**
   * `startContainer`: the runtime cannot start the process: the user is not in the image's
   * passwd, the executable is missing, an env value holds a NUL. Permanent for this spec and image.
   */
  CannotRun: 'ContainerCannotRun',
  /** Any other engine error (message carries the engine's text and HTTP status in context). */
  RequestFailed: 'DockerRequestFailed',
} as const;
export type DockerErrorCode = (typeof DockerErrorCode)[keyof typeof DockerErrorCode];

/**
 * Codes no retry can fix (the same spec and image fail the same way): a caller reports them as
 * Stalled and stops retrying until the input changes. Every other code is transient (retried
 * with backoff) or has its own handling (`Unavailable`: the engine is down, state unknown).
 */
export const PERMANENT_DOCKER_ERRORS: ReadonlySet<string> = new Set([
  DockerErrorCode.InvalidSpec,
  DockerErrorCode.CannotRun,
]);

/** Docker's container states. */
export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface PortBinding {
  containerPort: number;
  /**
   * Default: not published. The port is then only exposed: reachable on the container's networks
   * (by other containers, and by the host at the container's IP), never on the host's addresses.
   */
  hostPort?: number;
  /** Default `0.0.0.0` (all IPv4 interfaces; Docker also binds `::` then). */
  hostIP?: string;
  /** Default `tcp`. */
  protocol?: 'tcp' | 'udp';
}

export interface BindMount {
  /** Absolute path on the host. Unless `createHostPath`, it must exist: a missing path is `InvalidMount`. */
  hostPath: string;
  containerPath: string;
  /** Default false. */
  readOnly?: boolean;
  /**
   * Create a missing host path as an empty directory (owned by the engine's user, as `docker -v`
   * does). Default false: a missing path fails creation with `InvalidMount`.
   */
  createHostPath?: boolean;
}

/**
 * A Docker named volume (`HostConfig.Mounts` of type `volume`). The engine creates it when missing
 * (with `labels`) and never removes it: not on `removeContainer`, only on `removeVolume`.
 */
export interface NamedVolume {
  /** The volume's name, e.g. `myproject_data` (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, else InvalidMount). */
  name: string;
  containerPath: string;
  /** Default false. */
  readOnly?: boolean;
  /** Labels given to the volume when this create makes it (an existing volume keeps its own). Default none. */
  labels?: Readonly<Record<string, string>>;
}

/** A resource limit (`--ulimit name=soft:hard`). */
export interface Ulimit {
  name: 'nofile' | 'nproc';
  soft: number;
  hard: number;
}

/**
 * A user-defined bridge network to join at create time (Compose's `<project>_default`): the
 * engine's DNS answers the container's name and every alias for containers on the same network.
 */
export interface NetworkAttachment {
  /** The network's name; it must exist (`ensureNetwork`). */
  name: string;
  /** Extra DNS names on this network, e.g. the service name. Default none. */
  aliases?: readonly string[];
}

/** A user-defined network as observed. */
export interface NetworkInfo {
  name: string;
  labels: Record<string, string>;
}

/** What to create. Restart policy is always `no`: orun supervises restarts itself. */
export interface ContainerSpec {
  name: string;
  image: string;
  /** `['K=V', ...]` or `{K: 'V'}`. Default none. */
  env?: readonly string[] | Readonly<Record<string, string>>;
  /** Default none. orun puts its ownership labels here. */
  labels?: Readonly<Record<string, string>>;
  /** Default none. */
  ports?: readonly PortBinding[];
  /**
   * Default none. Sent as `HostConfig.Mounts` of type `bind` (not legacy `Binds`), so a missing host
   * path fails creation with `InvalidMount` instead of Docker silently creating an empty root-owned
   * directory; the Deployment controller reports it as `Stalled`.
   */
  binds?: readonly BindMount[];
  /** Default: the image's CMD. */
  cmd?: readonly string[];
  /** Default: the image's ENTRYPOINT. */
  entrypoint?: readonly string[];
  /** Seconds between the stop signal and SIGKILL when the engine stops the container. Default 10. */
  stopTimeoutSeconds?: number;
  /** Signal that stops the container (`Config.StopSignal`, e.g. `SIGQUIT`). Default: the image's, else SIGTERM. */
  stopSignal?: string;
  /**
   * Named volumes (`Mounts` of type `volume`), created when missing, never removed with the
   * container. Default none.
   */
  volumes?: readonly NamedVolume[];
  /**
   * Join this network instead of the engine's default bridge (`HostConfig.NetworkMode` plus its
   * aliases in `NetworkingConfig`). Published ports work as on the default bridge. Default: the
   * default bridge, where containers find each other by IP only.
   */
  network?: NetworkAttachment;
  /** Working directory of the container's process (`Config.WorkingDir`). Default: the image's WORKDIR. */
  workingDir?: string;
  /** `user`, `uid`, `user:group` or `uid:gid` (`Config.User`). Default: the image's USER (root for busybox). */
  user?: string;
  /** Memory limit in bytes (`HostConfig.Memory`, `--memory`). Default: unlimited. */
  memoryBytes?: number;
  /**
   * CPU limit in billionths of a CPU (`HostConfig.NanoCpus`, `--cpus` × 1e9). Default: unlimited.
   * Exclusive with `cpuQuota`: the engine rejects both (`DockerRequestFailed`).
   */
  nanoCpus?: number;
  /**
   * CFS quota in microseconds per `cpuPeriod` (`HostConfig.CpuQuota`; 50% of one CPU = 50000 with
   * the default period). Default: unlimited. Exclusive with `nanoCpus`.
   */
  cpuQuota?: number;
  /** CFS period in microseconds (`HostConfig.CpuPeriod`). Default 100000 when `cpuQuota` is set, else the engine's. */
  cpuPeriod?: number;
  /** `HostConfig.Ulimits` (`--ulimit`). Default: the engine's defaults (dockerd's `default-ulimits`). */
  ulimits?: readonly Ulimit[];
  /** Maximum number of tasks in the container (`HostConfig.PidsLimit`, `--pids-limit`). Default: unlimited. */
  pidsLimit?: number;
  /**
   * Relative block IO weight 10–1000 (`HostConfig.BlkioWeight`, `--blkio-weight`). Default: the
   * engine's (none). A host without the blkio/io weight control either discards it (dockerd on
   * cgroup v1 without CFQ/BFQ: a create warning, see {@link CreateOptions.onWarning}) or rejects it
   * (`ContainerResourceUnsupported`).
   */
  blkioWeight?: number;
}

export interface CreateOptions {
  /**
   * The engine's warnings about the created container (e.g. `Your kernel does not support Block
   * I/O weight or the cgroup is not mounted. Weight discarded.`). Default: dropped.
   */
  onWarning?: (message: string) => void;
}

export interface PublishedPort {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP: string;
  hostPort: number;
}

/** A container as observed. Times are RFC 3339 strings. */
export interface ContainerInfo {
  id: string;
  /** Without Docker's leading `/`. */
  name: string;
  labels: Record<string, string>;
  state: ContainerState;
  /** The image reference the container was created with, e.g. `orun-test/busybox:1`. */
  image: string;
  /** `sha256:...` of the image the container runs. */
  imageId: string;
  createdAt: string;
  /** Undefined until first started. */
  startedAt?: string;
  /** Undefined until first exit. */
  finishedAt?: string;
  /** Meaningful once exited; 0 before. */
  exitCode: number;
  oomKilled: boolean;
  /**
   * The engine's own restart count. It counts restarts by a restart *policy* only, so with orun's
   * policy `no` it stays 0; the controller keeps its own count.
   */
  restartCount: number;
  /** IPv4 address on the bridge network (else its first network); undefined unless running. */
  ipAddress?: string;
  /**
   * Per attached user-defined network (the default bridge has none, so it is absent): its DNS
   * aliases, and the container's IPv4 address on it while running.
   */
  networks?: Record<string, { aliases: string[]; ipAddress?: string }>;
  /** Published ports (the requested bindings; deduplicated across IPv4/IPv6). */
  ports: PublishedPort[];
}

/** A `docker logs` line, without its trailing newline. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogOptions {
  /** Keep streaming until the container stops or `signal` aborts. Default false. */
  follow?: boolean;
  /** Only the last N lines. Default: all. */
  tail?: number;
  /** Only lines since this time. Default: all. */
  since?: Date;
  /** Ends the iteration (quietly, no error). */
  signal?: AbortSignal;
}

/** A container lifecycle event. */
export interface ContainerEvent {
  /** e.g. create, start, die, stop, kill, oom, destroy, restart, health_status. */
  action: string;
  id: string;
  name: string;
  /** The container's labels (as carried by the event). */
  labels: Record<string, string>;
  /** For `die`. */
  exitCode?: number;
  /** For `health_status`: healthy | unhealthy | starting. */
  healthStatus?: string;
  /** Milliseconds since the epoch. */
  timeMs: number;
}

export interface EventFilters {
  /** Only containers carrying all these labels. Default: all containers. */
  labels?: Readonly<Record<string, string>>;
  /** Only these actions. Default: all. */
  actions?: readonly string[];
  /** Replay events since this time (to close the gap after a list). Default: from now. */
  since?: Date;
}

export interface BuildOptions {
  /** Directory sent as the build context (tarred with `tar -C contextDir -c .`). */
  contextDir: string;
  /** Path of the Dockerfile inside the context. Default `Dockerfile`. */
  dockerfile?: string;
  /** Default none. */
  buildArgs?: Readonly<Record<string, string>>;
  /** The tag to give the result, e.g. `orun-local/web:abc123`. */
  tag: string;
  /** Progress lines (`Step 1/2 : FROM ...`, command output), for logs. Default: dropped. */
  onProgress?: (line: string) => void;
}

export interface PullOptions {
  /** Progress status lines, for logs. Default: dropped. */
  onProgress?: (line: string) => void;
}

export interface ExecOptions {
  /** Default 1000. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  /** The command's exit code; -1 when it timed out or could not be started. */
  exitCode: number;
  /** stdout and stderr, interleaved, at most 10 KiB. */
  output: string;
  timedOut: boolean;
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
}

export interface ContainerEngine {
  /** Resolves when the engine answers; rejects `DockerUnavailable` otherwise. */
  ping(): Promise<void>;
  version(): Promise<EngineVersion>;

  /** Containers (running or not) carrying all labels in `labelSelector`. `{}` lists all. */
  listContainers(labelSelector: Readonly<Record<string, string>>): Promise<ContainerInfo[]>;
  /** By id or name; undefined when it does not exist. */
  inspectContainer(idOrName: string): Promise<ContainerInfo | undefined>;

  imageExists(ref: string): Promise<boolean>;
  /** The image id (`sha256:...`), or undefined when the image is not present. */
  inspectImage(ref: string): Promise<string | undefined>;
  /** Rejects `ImagePullFailed` with the registry's message. */
  pullImage(ref: string, signal?: AbortSignal, options?: PullOptions): Promise<void>;
  /** Resolves to the new image id. Rejects `ImageBuildFailed` naming the failing step. */
  buildImage(options: BuildOptions, signal?: AbortSignal): Promise<string>;

  /**
   * Resolves to the new container's id. Rejects NameConflict, ImageNotFound, InvalidMount,
   * ContainerResourceUnsupported. Named volumes the spec lists are created when missing.
   */
  createContainer(spec: ContainerSpec, options?: CreateOptions): Promise<string>;
  /** Starting a running container is a no-op. Rejects HostPortConflict, ContainerNotFound. */
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutSeconds` (default: the container's stop timeout). Idempotent. */
  stopContainer(id: string, options?: { timeoutSeconds?: number }): Promise<void>;
  /** Stop (as above) then start. */
  restartContainer(id: string, options?: { timeoutSeconds?: number }): Promise<void>;
  /**
   * Removes the container, never its volumes. `force` (default false) kills a running one first.
   * Removing a missing container is a no-op.
   */
  removeContainer(id: string, options?: { force?: boolean }): Promise<void>;

  /** Freezes the container's processes (`docker pause`). Rejects ContainerNotFound. */
  pauseContainer(id: string): Promise<void>;
  /** Thaws a paused container; a container that is not paused is left alone. Rejects ContainerNotFound. */
  unpauseContainer(id: string): Promise<void>;
  /**
   * Runs `command` in the running container (no shell, no TTY) and resolves to its exit code and
   * the first 10 KiB of its output. Past `timeoutMs` (default 1000) or on abort it resolves with
   * `timedOut` (the process may keep running, as with the kubelet's exec probes).
   */
  execContainer(id: string, command: readonly string[], options?: ExecOptions): Promise<ExecResult>;

  /**
   * Attaches a (running or stopped) container to a network with `aliases`; attaching it again is a
   * no-op. Rejects ContainerNotFound.
   */
  connectNetwork(id: string, network: string, aliases?: readonly string[]): Promise<void>;

  /** Whether a named volume exists. */
  volumeExists(name: string): Promise<boolean>;
  /**
   * Removes a named volume; a missing one is a no-op. Rejects `DockerRequestFailed` (HTTP 409) while
   * any container, running or not, uses it.
   */
  removeVolume(name: string): Promise<void>;

  /**
   * Creates the bridge network `name` with `labels` when it does not exist yet (an existing one
   * is kept as it is, whatever its labels). Safe to call concurrently for the same name.
   */
  ensureNetwork(name: string, options?: { labels?: Readonly<Record<string, string>> }): Promise<void>;
  /** Undefined when there is no network of that name. */
  inspectNetwork(name: string): Promise<NetworkInfo | undefined>;
  /**
   * Removes a network; a missing one is a no-op. Rejects `DockerRequestFailed` (HTTP 403 from
   * dockerd) while a running container is attached; a stopped one does not hold it (and then
   * fails to start until it is recreated).
   */
  removeNetwork(name: string): Promise<void>;

  /**
   * The container's output (it must be created without a TTY, as `createContainer` does). With
   * `follow`, the iteration ends when the container stops or `signal` aborts.
   */
  containerLogs(id: string, options?: LogOptions): AsyncIterable<LogLine>;
  /**
   * Container events until `signal` aborts (then the iteration ends quietly). If the engine goes
   * away the iteration rejects `DockerUnavailable`; resubscribe with `since` to replay the gap.
   */
  events(signal: AbortSignal, filters?: EventFilters): AsyncIterable<ContainerEvent>;
}

/** `{K: V}` or `['K=V']` → `['K=V']`. */
export function envList(env: ContainerSpec['env']): string[] {
  if (env === undefined) return [];
  if (Array.isArray(env)) return [...(env as readonly string[])];
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** `name` → `name:latest`; refs with a tag or digest are kept. */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  return ref.slice(lastSlash + 1).includes(':') ? ref : `${ref}:latest`;
}
