/**
 * An in-memory {@link ContainerEngine} for controller unit tests. It follows the same contract
 * as the real engine (`engine.contract.ts` runs against both) and adds knobs to script the world:
 * registry contents, failing pulls, crashes, OOM kills, log output, container IPs and injected errors.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import { Channel } from './channel.ts';
import {
  DockerErrorCode,
  envList,
  normalizeImageRef,
  type BuildOptions,
  type ContainerEngine,
  type ContainerEvent,
  type ContainerInfo,
  type ContainerSpec,
  type CreateOptions,
  type EngineVersion,
  type EventFilters,
  type ExecOptions,
  type ExecResult,
  type LogLine,
  type LogOptions,
  type NetworkInfo,
  type PublishedPort,
  type PullOptions,
} from './engine.ts';

/** Scripts `execContainer`: the answer for one command in one container. */
export type ExecHandler = (container: Readonly<ContainerInfo>, command: readonly string[]) => ExecResult;

interface FakeContainer {
  info: ContainerInfo;
  spec: ContainerSpec;
  /** Networks attached after creation (connectNetwork), with their aliases. */
  extraNetworks: Map<string, string[]>;
  env: string[];
  logs: LogLine[];
  followers: Set<Channel<LogLine>>;
}

export interface FakeEngineOptions {
  /** Images present locally from the start. Default none. */
  images?: readonly string[];
  /** Images a pull can fetch. Default none: every pull fails like an unreachable registry. */
  registry?: readonly string[];
  /** Returns the current time. Default `Date.now`. */
  now?: () => number;
  /**
   * What a `blkioWeight` does, to script hosts without the IO weight control. Default `applied`.
   * `discarded`: dockerd's behaviour on this repo's cgroup v1 host without CFQ/BFQ: created with a
   * warning (`onWarning`) and the weight dropped from the recorded spec. `rejected`: create fails
   * `ContainerResourceUnsupported` (an OCI runtime that cannot write `io.weight`).
   */
  blkioWeight?: 'applied' | 'discarded' | 'rejected';
}

/** dockerd's warning when the host cannot apply a blkio weight. */
export const BLKIO_DISCARDED_WARNING =
  'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';
/** dockerd refuses a memory limit under 6 MB (HTTP 400). */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A recorded call, for assertions (`fake.calls.filter(c => c.method === 'createContainer')`). */
export interface FakeCall {
  method: keyof ContainerEngine;
  args: unknown[];
}

type Method = keyof ContainerEngine;

export class FakeEngine implements ContainerEngine {
  readonly calls: FakeCall[] = [];
  readonly #images = new Map<string, string>();
  readonly #registry = new Set<string>();
  readonly #pullErrors = new Map<string, string>();
  readonly #containers = new Map<string, FakeContainer>();
  readonly #eventSubscribers = new Set<{ channel: Channel<ContainerEvent>; filters: EventFilters }>();
  readonly #eventLog: ContainerEvent[] = [];
  readonly #injected = new Map<Method, OrunError[]>();
  readonly #ipOverrides = new Map<string, string>();
  readonly #outputs = new Map<string, LogLine[]>();
  readonly #reservedPorts = new Set<string>();
  readonly #volumes = new Map<string, Record<string, string>>();
  readonly #networks = new Map<string, Record<string, string>>();
  #execHandler: ExecHandler = () => ({ exitCode: 0, output: '', timedOut: false });
  readonly #blkioWeight: NonNullable<FakeEngineOptions['blkioWeight']>;
  readonly #now: () => number;
  #nextIP = 2;
  #down = false;

  constructor(options: FakeEngineOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#blkioWeight = options.blkioWeight ?? 'applied';
    for (const ref of options.images ?? []) this.addImage(ref);
    for (const ref of options.registry ?? []) this.addRegistryImage(ref);
  }

  // ---- knobs -----------------------------------------------------------------------------------

  /** Makes `ref` present locally. Returns its id. */
  addImage(ref: string): string {
    const id = `sha256:${sha256(normalizeImageRef(ref))}`;
    this.#images.set(normalizeImageRef(ref), id);
    return id;
  }

  removeImage(ref: string): void {
    this.#images.delete(normalizeImageRef(ref));
  }

  /** Makes `ref` pullable. */
  addRegistryImage(ref: string): void {
    this.#registry.add(normalizeImageRef(ref));
  }

  /** The next pulls of `ref` fail with this registry message (until cleared with `undefined`). */
  failPull(ref: string, message: string | undefined): void {
    if (message === undefined) this.#pullErrors.delete(normalizeImageRef(ref));
    else this.#pullErrors.set(normalizeImageRef(ref), message);
  }

  /** The next call of `method` rejects with `error` (queued; one error per call). */
  injectError(method: Method, error: OrunError): void {
    const list = this.#injected.get(method) ?? [];
    list.push(error);
    this.#injected.set(method, list);
  }

  /** Simulates the engine going away (every call rejects DockerUnavailable) or coming back. */
  setDown(down: boolean): void {
    this.#down = down;
  }

  /** The IP the container (by id or name) gets when running; e.g. `127.0.0.1` to probe a local server. */
  setIPAddress(idOrName: string, ip: string): void {
    const c = this.#find(idOrName);
    this.#ipOverrides.set(c?.info.name ?? idOrName, ip);
    if (c?.info.state === 'running') c.info.ipAddress = ip;
  }

  /** Lines the container named `name` prints each time it starts. */
  setOutput(name: string, lines: readonly LogLine[]): void {
    this.#outputs.set(name, [...lines]);
  }

  /** Appends a log line to a container now (followers see it). */
  writeLog(idOrName: string, stream: LogLine['stream'], line: string): void {
    const c = this.#mustFind(idOrName, 'write log');
    this.#log(c, { stream, line });
  }

  /** Holds a host port as if another process listened on it. */
  reservePort(hostPort: number, protocol: 'tcp' | 'udp' = 'tcp'): void {
    this.#reservedPorts.add(`${hostPort}/${protocol}`);
  }

  /** The running container exits by itself (default code 1), emitting `die` (and `oom` first if `oom`). */
  crash(idOrName: string, exitCode = 1, options: { oom?: boolean } = {}): void {
    const c = this.#mustFind(idOrName, 'crash');
    if (c.info.state !== 'running') return;
    if (options.oom === true) this.#emit(c, 'oom');
    this.#exit(c, options.oom === true ? 137 : exitCode, options.oom === true);
  }

  /** The spec a container was created with (env normalized to `K=V`). */
  specOf(idOrName: string): (ContainerSpec & { env: string[] }) | undefined {
    const c = this.#find(idOrName);
    return c === undefined ? undefined : { ...c.spec, env: [...c.env] };
  }

  /** A named volume's labels, or undefined when it does not exist. */
  volumeLabels(name: string): Record<string, string> | undefined {
    const labels = this.#volumes.get(name);
    return labels === undefined ? undefined : { ...labels };
  }

  /** What `execContainer` answers (per call). Default: exit 0, no output. */
  setExecHandler(handler: ExecHandler): void {
    this.#execHandler = handler;
  }

  /** A network's labels, or undefined when it does not exist. */
  networkLabels(name: string): Record<string, string> | undefined {
    const labels = this.#networks.get(name);
    return labels === undefined ? undefined : { ...labels };
  }

  /** Every event emitted so far. */
  get eventLog(): readonly ContainerEvent[] {
    return this.#eventLog;
  }

  // ---- ContainerEngine -------------------------------------------------------------------------

  async ping(): Promise<void> {
    await this.#enter('ping', []);
  }

  async version(): Promise<EngineVersion> {
    await this.#enter('version', []);
    return { version: 'fake', apiVersion: '1.41' };
  }

  async listContainers(labelSelector: Readonly<Record<string, string>>): Promise<ContainerInfo[]> {
    await this.#enter('listContainers', [labelSelector]);
    return [...this.#containers.values()]
      .filter((c) => matches(c.info.labels, labelSelector))
      .map((c) => clone(c.info));
  }

  async inspectContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    await this.#enter('inspectContainer', [idOrName]);
    const c = this.#find(idOrName);
    return c === undefined ? undefined : clone(c.info);
  }

  async imageExists(ref: string): Promise<boolean> {
    await this.#enter('imageExists', [ref]);
    return this.#images.has(normalizeImageRef(ref));
  }

  async inspectImage(ref: string): Promise<string | undefined> {
    await this.#enter('inspectImage', [ref]);
    return this.#images.get(normalizeImageRef(ref));
  }

  async pullImage(ref: string, signal?: AbortSignal, options: PullOptions = {}): Promise<void> {
    await this.#enter('pullImage', [ref]);
    const norm = normalizeImageRef(ref);
    const fail = (msg: string): OrunError =>
      new OrunError(DockerErrorCode.ImagePullFailed, `docker: pull ${ref}: ${msg}`, {
        context: { image: ref },
      });
    if (signal?.aborted === true) throw fail('aborted');
    const scripted = this.#pullErrors.get(norm);
    if (scripted !== undefined) throw fail(scripted);
    if (!this.#registry.has(norm)) {
      const registry = norm.includes('/') ? norm.split('/')[0] : 'registry-1.docker.io';
      throw fail(`Get "https://${registry}/v2/": dial tcp: lookup ${registry}: no such host`);
    }
    options.onProgress?.(`Status: Downloaded newer image for ${norm}`);
    this.addImage(norm);
  }

  /** Simulated: FROM must name a local image and every COPY/ADD source must exist in the context. */
  async buildImage(options: BuildOptions, signal?: AbortSignal): Promise<string> {
    await this.#enter('buildImage', [options]);
    const step = `build ${options.tag}`;
    const fail = (msg: string): OrunError =>
      new OrunError(DockerErrorCode.ImageBuildFailed, `docker: ${step}: ${msg}`, {
        context: { tag: options.tag, contextDir: options.contextDir },
      });
    if (signal?.aborted === true) throw fail('aborted');
    if (!isDir(options.contextDir)) throw fail(`build context ${options.contextDir} is not a directory`);
    const dockerfile = join(options.contextDir, options.dockerfile ?? 'Dockerfile');
    if (!existsSync(dockerfile))
      throw fail(`Cannot locate specified Dockerfile: ${options.dockerfile ?? 'Dockerfile'}`);
    const steps = readFileSync(dockerfile, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const [n, line] of steps.entries()) {
      const label = `Step ${n + 1}/${steps.length} : ${line}`;
      options.onProgress?.(label);
      const [instr = '', ...rest] = line.split(/\s+/);
      if (/^from$/i.test(instr) && !this.#images.has(normalizeImageRef(rest[0] ?? ''))) {
        throw fail(`${label}: pull access denied for ${rest[0]}`);
      }
      if (/^(copy|add)$/i.test(instr)) {
        for (const src of rest.filter((a) => !a.startsWith('--')).slice(0, -1)) {
          if (!existsSync(join(options.contextDir, src))) {
            throw fail(
              `${label}: COPY failed: file not found in build context: stat ${src}: file does not exist`,
            );
          }
        }
      }
    }
    return this.addImage(options.tag);
  }

  async createContainer(spec: ContainerSpec, options: CreateOptions = {}): Promise<string> {
    await this.#enter('createContainer', [spec, options]);
    const step = `create container ${spec.name}`;
    if (this.#find(spec.name) !== undefined) {
      throw new OrunError(
        DockerErrorCode.NameConflict,
        `docker: ${step}: Conflict. The container name "/${spec.name}" is already in use`,
        { context: { container: spec.name } },
      );
    }
    const imageId = this.#images.get(normalizeImageRef(spec.image));
    if (imageId === undefined) {
      throw new OrunError(DockerErrorCode.ImageNotFound, `docker: ${step}: No such image: ${spec.image}`, {
        context: { container: spec.name, image: spec.image },
      });
    }
    this.#checkSpec(spec, step);
    const recorded = this.#blkioWeightAsConfigured(spec, step, options);
    for (const v of spec.volumes ?? []) {
      if (!this.#volumes.has(v.name)) this.#volumes.set(v.name, { ...v.labels });
    }
    const id = sha256(`${spec.name}/${this.#now()}/${Math.random()}`);
    const c: FakeContainer = {
      spec: recorded,
      extraNetworks: new Map(),
      env: envList(spec.env),
      logs: [],
      followers: new Set(),
      info: {
        id,
        name: spec.name,
        labels: { ...spec.labels },
        state: 'created',
        image: spec.image,
        imageId,
        createdAt: this.#iso(),
        exitCode: 0,
        oomKilled: false,
        restartCount: 0,
        ports: publishedPorts(spec),
        ...(spec.network === undefined
          ? {}
          : { networks: { [spec.network.name]: { aliases: [...(spec.network.aliases ?? [])] } } }),
      },
    };
    this.#containers.set(id, c);
    this.#emit(c, 'create');
    return id;
  }

  /** Throws what the real engine answers to a spec it refuses: a bad mount, network or limit. */
  #checkSpec(spec: ContainerSpec, step: string): void {
    for (const b of spec.binds ?? []) {
      // createHostPath: the real engine creates the directory; the fake only records the request.
      if (!b.hostPath.startsWith('/') || (b.createHostPath !== true && !existsSync(b.hostPath))) {
        throw new OrunError(
          DockerErrorCode.InvalidMount,
          `docker: ${step}: invalid mount config for type "bind": bind source path does not exist: ${b.hostPath}`,
          { context: { container: spec.name, hostPath: b.hostPath } },
        );
      }
    }
    for (const v of spec.volumes ?? []) {
      if (!VOLUME_NAME.test(v.name)) {
        throw new OrunError(
          DockerErrorCode.InvalidMount,
          `docker: ${step}: create ${v.name}: "${v.name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
          { context: { container: spec.name, volume: v.name } },
        );
      }
    }
    if (spec.network !== undefined && !this.#networks.has(spec.network.name)) {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: ${step}: network ${spec.network.name} not found`,
        { context: { container: spec.name, image: spec.image, httpStatus: 404 } },
      );
    }
    if (spec.memoryBytes !== undefined && spec.memoryBytes < MIN_MEMORY_BYTES) {
      throw new OrunError(
        DockerErrorCode.InvalidSpec,
        `docker: ${step}: Minimum memory limit allowed is 6MB`,
        {
          context: { container: spec.name, image: spec.image, httpStatus: 400 },
        },
      );
    }
    if (spec.nanoCpus !== undefined && (spec.cpuQuota !== undefined || spec.cpuPeriod !== undefined)) {
      throw new OrunError(
        DockerErrorCode.InvalidSpec,
        `docker: ${step}: Conflicting options: Nano CPUs and CPU Period cannot both be set`,
        { context: { container: spec.name, image: spec.image, httpStatus: 400 } },
      );
    }
  }

  /**
   * The spec as the fake records it, with blkioWeight handled as this host's kernel would
   * (see the blkioWeight option): rejected, discarded with a warning, or kept.
   */
  #blkioWeightAsConfigured(spec: ContainerSpec, step: string, options: CreateOptions): ContainerSpec {
    const recorded = structuredClone(spec);
    if (spec.blkioWeight !== undefined && this.#blkioWeight === 'rejected') {
      throw new OrunError(
        DockerErrorCode.ResourceUnsupported,
        `docker: ${step}: OCI runtime create failed: open /sys/fs/cgroup/io.weight: no such file or directory`,
        { context: { container: spec.name, image: spec.image, resource: 'blkioWeight', httpStatus: 500 } },
      );
    }
    if (spec.blkioWeight !== undefined && this.#blkioWeight === 'discarded') {
      delete recorded.blkioWeight;
      options.onWarning?.(BLKIO_DISCARDED_WARNING);
    }
    return recorded;
  }

  async startContainer(id: string): Promise<void> {
    await this.#enter('startContainer', [id]);
    const c = this.#mustFind(id, 'start container');
    if (c.info.state === 'running') return;
    this.#start(c, `start container ${id}`);
  }

  async stopContainer(id: string, _options: { timeoutSeconds?: number } = {}): Promise<void> {
    await this.#enter('stopContainer', [id, _options]);
    const c = this.#find(id);
    if (c === undefined || (c.info.state !== 'running' && c.info.state !== 'paused')) return;
    this.#emit(c, 'kill');
    this.#exit(c, 143, false);
    this.#emit(c, 'stop');
  }

  async restartContainer(id: string, options: { timeoutSeconds?: number } = {}): Promise<void> {
    await this.#enter('restartContainer', [id, options]);
    const c = this.#mustFind(id, 'restart container');
    if (c.info.state === 'running') {
      this.#emit(c, 'kill');
      this.#exit(c, 143, false);
      this.#emit(c, 'stop');
    }
    this.#start(c, `restart container ${id}`);
    this.#emit(c, 'restart');
  }

  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#enter('removeContainer', [id, options]);
    const c = this.#find(id);
    if (c === undefined) return;
    if (c.info.state === 'running' || c.info.state === 'paused') {
      if (options.force !== true) {
        throw new OrunError(
          DockerErrorCode.RequestFailed,
          `docker: remove container ${id}: You cannot remove a running container ${c.info.id}. Stop the container before attempting removal or force remove`,
          { context: { container: id, httpStatus: 409 } },
        );
      }
      this.#emit(c, 'kill');
      this.#exit(c, 137, false);
    }
    this.#containers.delete(c.info.id);
    this.#emit(c, 'destroy');
  }

  async pauseContainer(id: string): Promise<void> {
    await this.#enter('pauseContainer', [id]);
    const c = this.#mustFind(id, 'pause container');
    if (c.info.state !== 'running') {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: pause container ${id}: Container ${c.info.id} is not running`,
        { context: { container: id, httpStatus: 409 } },
      );
    }
    c.info.state = 'paused';
    this.#emit(c, 'pause');
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.#enter('unpauseContainer', [id]);
    const c = this.#mustFind(id, 'unpause container');
    if (c.info.state !== 'paused') return;
    c.info.state = 'running';
    this.#emit(c, 'unpause');
  }

  async execContainer(
    id: string,
    command: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    await this.#enter('execContainer', [id, command, options]);
    const c = this.#mustFind(id, 'exec in container');
    if (c.info.state !== 'running') {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: exec in container ${id}: Container ${c.info.id} is not running`,
        { context: { container: id, httpStatus: 409 } },
      );
    }
    return this.#execHandler(c.info, command);
  }

  async connectNetwork(id: string, network: string, aliases: readonly string[] = []): Promise<void> {
    await this.#enter('connectNetwork', [id, network, aliases]);
    const c = this.#mustFind(id, `connect container to network ${network}`);
    if (!this.#networks.has(network)) {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: connect container ${id} to network ${network}: network ${network} not found`,
        { context: { container: id, network, httpStatus: 404 } },
      );
    }
    if (c.info.networks?.[network] !== undefined) return;
    c.extraNetworks.set(network, [...aliases]);
    c.info.networks = {
      ...c.info.networks,
      [network]: {
        aliases: [...aliases],
        ...(c.info.state === 'running' ? { ipAddress: this.#allocateIP() } : {}),
      },
    };
  }

  async volumeExists(name: string): Promise<boolean> {
    await this.#enter('volumeExists', [name]);
    return this.#volumes.has(name);
  }

  async removeVolume(name: string): Promise<void> {
    await this.#enter('removeVolume', [name]);
    if (!this.#volumes.has(name)) return;
    const users = [...this.#containers.values()]
      .filter((c) => (c.spec.volumes ?? []).some((v) => v.name === name))
      .map((c) => c.info.id);
    if (users.length > 0) {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: remove volume ${name}: remove ${name}: volume is in use - [${users.join(', ')}]`,
        { context: { volume: name, httpStatus: 409 } },
      );
    }
    this.#volumes.delete(name);
  }

  async ensureNetwork(
    name: string,
    options: { labels?: Readonly<Record<string, string>> } = {},
  ): Promise<void> {
    await this.#enter('ensureNetwork', [name, options]);
    if (!this.#networks.has(name)) this.#networks.set(name, { ...options.labels });
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    await this.#enter('inspectNetwork', [name]);
    const labels = this.#networks.get(name);
    return labels === undefined ? undefined : { name, labels: { ...labels } };
  }

  async removeNetwork(name: string): Promise<void> {
    await this.#enter('removeNetwork', [name]);
    if (!this.#networks.has(name)) return;
    const users = [...this.#containers.values()].filter(
      (c) => c.spec.network?.name === name && c.info.state === 'running',
    );
    if (users.length > 0) {
      throw new OrunError(
        DockerErrorCode.RequestFailed,
        `docker: remove network ${name}: error while removing network: network ${name} id ${sha256(name)} has active endpoints`,
        { context: { network: name, httpStatus: 403 } },
      );
    }
    this.#networks.delete(name);
  }

  async *containerLogs(id: string, options: LogOptions = {}): AsyncGenerator<LogLine> {
    await this.#enter('containerLogs', [id, options]);
    const c = this.#mustFind(id, 'logs of container');
    const since = options.since?.getTime();
    let lines = since === undefined ? c.logs : c.logs.filter((l) => (l as Stamped).timeMs >= since);
    if (options.tail !== undefined) lines = options.tail === 0 ? [] : lines.slice(-options.tail);
    for (const l of lines) {
      if (options.signal?.aborted === true) return;
      yield { stream: l.stream, line: l.line };
    }
    if (options.follow !== true || c.info.state !== 'running') return;
    const channel = new Channel<LogLine>();
    c.followers.add(channel);
    try {
      yield* channel.iterate(options.signal);
    } finally {
      c.followers.delete(channel);
    }
  }

  async *events(signal: AbortSignal, filters: EventFilters = {}): AsyncGenerator<ContainerEvent> {
    await this.#enter('events', [filters]);
    const sub = { channel: new Channel<ContainerEvent>(), filters };
    if (filters.since !== undefined) {
      const since = filters.since.getTime();
      for (const e of this.#eventLog) if (e.timeMs >= since && eventMatches(e, filters)) sub.channel.push(e);
    }
    this.#eventSubscribers.add(sub);
    try {
      yield* sub.channel.iterate(signal);
    } finally {
      this.#eventSubscribers.delete(sub);
    }
  }

  // ---- simulation --------------------------------------------------------------------------------

  async #enter(method: Method, args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    // Every real call crosses a socket; resolving a microtask later keeps ordering bugs visible.
    await Promise.resolve();
    if (this.#down) {
      throw new OrunError(
        DockerErrorCode.Unavailable,
        `docker: ${method}: connect ENOENT /var/run/docker.sock`,
      );
    }
    const queued = this.#injected.get(method);
    const err = queued?.shift();
    if (err !== undefined) throw err;
  }

  #find(idOrName: string): FakeContainer | undefined {
    const exact = this.#containers.get(idOrName);
    if (exact !== undefined) return exact;
    const name = idOrName.replace(/^\//, '');
    for (const c of this.#containers.values()) {
      if (c.info.name === name) return c;
    }
    if (idOrName.length >= 12) {
      for (const c of this.#containers.values()) if (c.info.id.startsWith(idOrName)) return c;
    }
    return undefined;
  }

  #mustFind(idOrName: string, step: string): FakeContainer {
    const c = this.#find(idOrName);
    if (c === undefined) {
      throw new OrunError(
        DockerErrorCode.ContainerNotFound,
        `docker: ${step}: No such container: ${idOrName}`,
        {
          context: { container: idOrName, httpStatus: 404 },
        },
      );
    }
    return c;
  }

  #start(c: FakeContainer, step: string): void {
    const taken = this.#portsInUse(c);
    for (const p of c.info.ports) {
      if (taken.has(`${p.hostPort}/${p.protocol}`)) {
        throw new OrunError(
          DockerErrorCode.HostPortConflict,
          `docker: ${step}: driver failed programming external connectivity on endpoint ${c.info.name}: Bind for ${p.hostIP}:${p.hostPort} failed: port is already allocated`,
          { context: { container: c.info.name, hostPort: p.hostPort } },
        );
      }
    }
    c.info.state = 'running';
    c.info.startedAt = this.#iso();
    c.info.exitCode = 0;
    c.info.oomKilled = false;
    c.info.ipAddress = this.#ipOverrides.get(c.info.name) ?? this.#allocateIP();
    const ip = c.info.ipAddress;
    for (const [i, n] of Object.values(c.info.networks ?? {}).entries())
      n.ipAddress = i === 0 ? ip : this.#allocateIP();
    this.#emit(c, 'start');
    for (const l of this.#outputs.get(c.info.name) ?? []) this.#log(c, l);
  }

  #exit(c: FakeContainer, exitCode: number, oom: boolean): void {
    c.info.state = 'exited';
    c.info.exitCode = exitCode;
    c.info.oomKilled = oom;
    c.info.finishedAt = this.#iso();
    delete c.info.ipAddress;
    for (const n of Object.values(c.info.networks ?? {})) delete n.ipAddress;
    this.#emit(c, 'die', exitCode);
    for (const f of c.followers) f.close();
  }

  #allocateIP(): string {
    return `172.17.0.${this.#nextIP++}`;
  }

  #portsInUse(except: FakeContainer): Set<string> {
    const taken = new Set(this.#reservedPorts);
    for (const c of this.#containers.values()) {
      if (c === except || c.info.state !== 'running') continue;
      for (const p of c.info.ports) taken.add(`${p.hostPort}/${p.protocol}`);
    }
    return taken;
  }

  #log(c: FakeContainer, l: LogLine): void {
    const stamped: Stamped = { stream: l.stream, line: l.line, timeMs: this.#now() };
    c.logs.push(stamped);
    for (const f of c.followers) f.push({ stream: l.stream, line: l.line });
  }

  #emit(c: FakeContainer, action: string, exitCode?: number): void {
    const e: ContainerEvent = {
      action,
      id: c.info.id,
      name: c.info.name,
      labels: { ...c.info.labels },
      ...(exitCode === undefined ? {} : { exitCode }),
      timeMs: this.#now(),
    };
    this.#eventLog.push(e);
    for (const s of this.#eventSubscribers) if (eventMatches(e, s.filters)) s.channel.push(e);
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }
}

type Stamped = LogLine & { timeMs: number };

/** The ports the spec publishes on the host, as inspect lists them (sorted). */
function publishedPorts(spec: ContainerSpec): PublishedPort[] {
  return (spec.ports ?? [])
    .filter((p): p is typeof p & { hostPort: number } => p.hostPort !== undefined)
    .map((p): PublishedPort => ({
      containerPort: p.containerPort,
      protocol: p.protocol ?? 'tcp',
      hostIP: p.hostIP ?? '0.0.0.0',
      hostPort: p.hostPort,
    }))
    .sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort);
}

function matches(labels: Record<string, string>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function eventMatches(e: ContainerEvent, f: EventFilters): boolean {
  return matches(e.labels, f.labels ?? {}) && (f.actions === undefined || f.actions.includes(e.action));
}

function clone(info: ContainerInfo): ContainerInfo {
  return structuredClone(info);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
