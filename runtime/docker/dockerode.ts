/**
 * The real engine: the Docker Engine API (dockerd, or Podman's compatible socket) through dockerode.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { OrunError } from '../../apis/errors.ts';
import {
  DockerErrorCode,
  envList,
  type BuildOptions,
  type ContainerEngine,
  type ContainerEvent,
  type ContainerInfo,
  type ContainerSpec,
  type ContainerState,
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
import { classify, engineMessage, statusOf, toOrunError } from './errors.ts';
import { demuxLines, ndjson } from './stream.ts';

export interface DockerEngineOptions {
  /**
   * Unix socket of the engine. Default: from `DOCKER_HOST` (`unix://`, `tcp://`), else
   * `/var/run/docker.sock`. Podman: `/run/podman/podman.sock`.
   */
  socketPath?: string;
  /** A ready dockerode client (wins over `socketPath`). Default: one built from the above. */
  client?: Dockerode;
}

/** The real {@link ContainerEngine}. */
export class DockerEngine implements ContainerEngine {
  readonly client: Dockerode;
  /** In-flight creations by network name: dockerd does not refuse a second network of the same name. */
  readonly #creatingNetworks = new Map<string, Promise<void>>();

  constructor(options: DockerEngineOptions = {}) {
    this.client =
      options.client ??
      (options.socketPath !== undefined
        ? new Dockerode({ socketPath: options.socketPath })
        : new Dockerode());
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw toOrunError('ping', err, {}, DockerErrorCode.Unavailable);
    }
  }

  async version(): Promise<EngineVersion> {
    try {
      const v = await this.client.version();
      return { version: v.Version, apiVersion: v.ApiVersion };
    } catch (err) {
      throw toOrunError('version', err, {}, classifyOr(err, DockerErrorCode.Unavailable));
    }
  }

  async listContainers(labelSelector: Readonly<Record<string, string>>): Promise<ContainerInfo[]> {
    const label = Object.entries(labelSelector).map(([k, v]) => `${k}=${v}`);
    let summaries: Dockerode.ContainerInfo[];
    try {
      summaries = await this.client.listContainers({ all: true, filters: { label } });
    } catch (err) {
      throw toOrunError('list containers', err, { labelSelector });
    }
    // The list endpoint lacks start times and exit codes, so each one is inspected (in parallel).
    const infos = await Promise.all(summaries.map((s) => this.inspectContainer(s.Id)));
    return infos.filter((i): i is ContainerInfo => i !== undefined);
  }

  async inspectContainer(idOrName: string): Promise<ContainerInfo | undefined> {
    try {
      return toContainerInfo(await this.client.getContainer(idOrName).inspect());
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw toOrunError(`inspect container ${idOrName}`, err, { container: idOrName });
    }
  }

  async imageExists(ref: string): Promise<boolean> {
    return (await this.inspectImage(ref)) !== undefined;
  }

  async inspectImage(ref: string): Promise<string | undefined> {
    try {
      return (await this.client.getImage(ref).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw toOrunError(`inspect image ${ref}`, err, { image: ref });
    }
  }

  async pullImage(ref: string, signal?: AbortSignal, options: PullOptions = {}): Promise<void> {
    const step = `pull ${ref}`;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.client.pull(ref, { abortSignal: signal });
    } catch (err) {
      throw toOrunError(step, err, { image: ref }, classifyOr(err, DockerErrorCode.ImagePullFailed));
    }
    // A pull can also fail after the 200: the error then arrives as a progress message.
    try {
      for await (const msg of ndjson(stream as Readable)) {
        const m = msg as { error?: string; status?: string; id?: string; progress?: string };
        if (m.error !== undefined)
          throw new OrunError(DockerErrorCode.ImagePullFailed, `docker: ${step}: ${m.error}`);
        if (m.status !== undefined)
          options.onProgress?.([m.id, m.status, m.progress].filter(Boolean).join(' '));
      }
    } catch (err) {
      throw toOrunError(step, err, { image: ref }, DockerErrorCode.ImagePullFailed);
    }
  }

  async buildImage(options: BuildOptions, signal?: AbortSignal): Promise<string> {
    const step = `build ${options.tag}`;
    const context = { tag: options.tag, contextDir: options.contextDir };
    const dir = await stat(options.contextDir).catch(() => undefined);
    if (!dir?.isDirectory()) {
      throw new OrunError(
        DockerErrorCode.ImageBuildFailed,
        `docker: ${step}: build context ${options.contextDir} is not a directory`,
        { context },
      );
    }
    const tar = spawn('tar', ['-C', options.contextDir, '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    const tarDone = processExit(tar);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.client.buildImage(tar.stdout, {
        t: options.tag,
        dockerfile: options.dockerfile ?? 'Dockerfile',
        buildargs: { ...options.buildArgs },
        rm: true,
        forcerm: true,
        abortSignal: signal,
      });
    } catch (err) {
      tar.kill();
      await tarDone.catch(() => undefined);
      throw toOrunError(step, err, context, DockerErrorCode.ImageBuildFailed);
    }
    let currentStep = '';
    let imageId: string | undefined;
    try {
      for await (const msg of ndjson(stream as Readable)) {
        const m = msg as { stream?: string; error?: string; aux?: { ID?: string } };
        if (m.aux?.ID !== undefined) imageId = m.aux.ID;
        if (m.stream !== undefined) {
          for (const line of m.stream.split('\n')) {
            if (line.trim() === '') continue;
            if (/^Step \d+\/\d+ : /.test(line)) currentStep = line;
            options.onProgress?.(line);
          }
        }
        if (m.error !== undefined) {
          const where = currentStep === '' ? '' : `${currentStep}: `;
          throw new OrunError(
            DockerErrorCode.ImageBuildFailed,
            `docker: ${step}: ${where}${m.error.trim()}`,
            {
              context: { ...context, step: currentStep },
            },
          );
        }
      }
      await tarDone;
    } catch (err) {
      tar.kill();
      throw toOrunError(step, err, context, DockerErrorCode.ImageBuildFailed);
    }
    const id = imageId ?? (await this.inspectImage(options.tag));
    if (id === undefined) {
      throw new OrunError(DockerErrorCode.ImageBuildFailed, `docker: ${step}: no image produced`, {
        context,
      });
    }
    return id;
  }

  async createContainer(spec: ContainerSpec, options: CreateOptions = {}): Promise<string> {
    for (const b of spec.binds ?? []) {
      if (!b.hostPath.startsWith('/')) {
        throw new OrunError(
          DockerErrorCode.InvalidMount,
          `docker: create container ${spec.name}: bind host path ${b.hostPath} is not absolute`,
          { context: { container: spec.name, hostPath: b.hostPath } },
        );
      }
    }
    try {
      // Dialled directly (not `client.createContainer`) to keep the engine's `Warnings`.
      const created = await new Promise<{ Id: string; Warnings?: string[] | null }>((resolve, reject) => {
        this.client.modem.dial(
          {
            path: '/containers/create?',
            method: 'POST',
            options: toCreateOptions(spec),
            statusCodes: {
              200: true,
              201: true,
              400: 'bad parameter',
              404: 'no such image',
              409: 'conflict',
              500: 'server error',
            },
          },
          (err, data) => (err ? reject(err) : resolve(data as { Id: string; Warnings?: string[] | null })),
        );
      });
      for (const w of created.Warnings ?? []) if (w.trim() !== '') options.onWarning?.(w.trim());
      return created.Id;
    } catch (err) {
      throw toOrunError(`create container ${spec.name}`, err, {
        container: spec.name,
        image: spec.image,
        ...resourceContext(err, spec),
      });
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.client.getContainer(id).start();
    } catch (err) {
      if (statusOf(err) === 304) return;
      throw toOrunError(`start container ${id}`, err, { container: id, ...resourceContext(err) });
    }
  }

  async stopContainer(id: string, options: { timeoutSeconds?: number } = {}): Promise<void> {
    try {
      await this.client
        .getContainer(id)
        .stop(options.timeoutSeconds === undefined ? {} : { t: options.timeoutSeconds });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304 || status === 404) return;
      throw toOrunError(`stop container ${id}`, err, { container: id });
    }
  }

  async restartContainer(id: string, options: { timeoutSeconds?: number } = {}): Promise<void> {
    try {
      await this.client
        .getContainer(id)
        .restart(options.timeoutSeconds === undefined ? {} : { t: options.timeoutSeconds });
    } catch (err) {
      throw toOrunError(`restart container ${id}`, err, { container: id });
    }
  }

  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    try {
      // v: false — anonymous volumes are data too; orun never removes them.
      await this.client.getContainer(id).remove({ v: false, force: options.force ?? false });
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw toOrunError(`remove container ${id}`, err, { container: id });
    }
  }

  async pauseContainer(id: string): Promise<void> {
    try {
      await this.client.getContainer(id).pause();
    } catch (err) {
      throw toOrunError(`pause container ${id}`, err, { container: id });
    }
  }

  async unpauseContainer(id: string): Promise<void> {
    try {
      await this.client.getContainer(id).unpause();
    } catch (err) {
      // dockerd 20.10 answers 500 "is not paused" for a running container: thawed already.
      const now = await this.inspectContainer(id).catch(() => undefined);
      if (now !== undefined && now.state !== 'paused') return;
      throw toOrunError(`unpause container ${id}`, err, { container: id });
    }
  }

  async execContainer(
    id: string,
    command: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 1000;
    const step = `exec in container ${id}`;
    let output = '';
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    options.signal?.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(stop, timeoutMs);
    try {
      const exec = await this.client
        .getContainer(id)
        .exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true, Tty: false });
      const stream = (await exec.start({ hijack: true, stdin: false })) as Readable;
      const done = (async () => {
        for await (const l of demuxLines(stream)) {
          if (output.length < maxExecOutput) output += `${l.line}\n`;
        }
      })();
      const aborted = new Promise<'aborted'>((resolve) => {
        if (ac.signal.aborted) resolve('aborted');
        ac.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      if ((await Promise.race([done.then(() => 'done' as const), aborted])) === 'aborted') {
        stream.destroy();
        await done.catch(() => undefined);
        return { exitCode: -1, output: output.slice(0, maxExecOutput), timedOut: true };
      }
      const info = await exec.inspect();
      return { exitCode: info.ExitCode ?? -1, output: output.slice(0, maxExecOutput), timedOut: false };
    } catch (err) {
      throw toOrunError(step, err, { container: id });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
    }
  }

  async connectNetwork(id: string, network: string, aliases: readonly string[] = []): Promise<void> {
    try {
      await this.client
        .getNetwork(network)
        .connect({ Container: id, EndpointConfig: { Aliases: [...aliases] } });
    } catch (err) {
      // "endpoint with name ... already exists in network": already attached.
      if (statusOf(err) === 403 || (statusOf(err) === 500 && /already exists/i.test(engineMessage(err))))
        return;
      throw toOrunError(`connect container ${id} to network ${network}`, err, { container: id, network });
    }
  }

  async volumeExists(name: string): Promise<boolean> {
    try {
      await this.client.getVolume(name).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw toOrunError(`inspect volume ${name}`, err, { volume: name });
    }
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.client.getVolume(name).remove();
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw toOrunError(`remove volume ${name}`, err, { volume: name });
    }
  }

  ensureNetwork(name: string, options: { labels?: Readonly<Record<string, string>> } = {}): Promise<void> {
    let p = this.#creatingNetworks.get(name);
    if (p === undefined) {
      p = this.#ensureNetwork(name, options).finally(() => this.#creatingNetworks.delete(name));
      this.#creatingNetworks.set(name, p);
    }
    return p;
  }

  async #ensureNetwork(name: string, options: { labels?: Readonly<Record<string, string>> }): Promise<void> {
    if ((await this.inspectNetwork(name)) !== undefined) return;
    try {
      await this.client.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { ...options.labels },
      });
    } catch (err) {
      // Another process created it meanwhile.
      if (statusOf(err) === 409) return;
      throw toOrunError(`create network ${name}`, err, { network: name });
    }
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    try {
      const n = (await this.client.getNetwork(name).inspect()) as {
        Name: string;
        Labels?: Record<string, string> | null;
      };
      // dockerd matches a name prefix of an id too; only an exact name counts.
      if (n.Name !== name) return undefined;
      return { name: n.Name, labels: { ...n.Labels } };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw toOrunError(`inspect network ${name}`, err, { network: name });
    }
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.client.getNetwork(name).remove();
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw toOrunError(`remove network ${name}`, err, { network: name });
    }
  }

  async *containerLogs(id: string, options: LogOptions = {}): AsyncGenerator<LogLine> {
    const { signal } = options;
    const query = {
      stdout: true,
      stderr: true,
      ...(options.tail === undefined ? {} : { tail: options.tail }),
      ...(options.since === undefined ? {} : { since: Math.floor(options.since.getTime() / 1000) }),
      abortSignal: signal,
    };
    try {
      const container = this.client.getContainer(id);
      if (options.follow === true) {
        const stream = (await container.logs({ ...query, follow: true })) as Readable;
        yield* demuxLines(stream);
      } else {
        const buf = await container.logs({ ...query, follow: false });
        yield* demuxLines(once(buf));
      }
    } catch (err) {
      if (signal?.aborted === true) return;
      throw toOrunError(`logs of container ${id}`, err, { container: id });
    }
  }

  async *events(signal: AbortSignal, filters: EventFilters = {}): AsyncGenerator<ContainerEvent> {
    if (signal.aborted) return;
    const query: Record<string, string[]> = { type: ['container'] };
    if (filters.labels !== undefined)
      query.label = Object.entries(filters.labels).map(([k, v]) => `${k}=${v}`);
    if (filters.actions !== undefined) query.event = [...filters.actions];
    try {
      const stream = (await this.client.getEvents({
        filters: query,
        ...(filters.since === undefined ? {} : { since: Math.floor(filters.since.getTime() / 1000) }),
        abortSignal: signal,
      })) as Readable;
      for await (const msg of ndjson(stream)) {
        const event = toContainerEvent(msg);
        if (event !== undefined) yield event;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw toOrunError('events', err, {}, classifyOr(err, DockerErrorCode.Unavailable));
    }
    if (signal.aborted) return;
    // The engine closed the stream (dockerd restarted): say so, so the caller resubscribes with `since`.
    throw new OrunError(DockerErrorCode.Unavailable, 'docker: events: the engine closed the event stream');
  }
}

/** `{resource: 'blkioWeight'}` when the engine refused the IO weight. */
function resourceContext(err: unknown, spec?: ContainerSpec): Record<string, unknown> {
  if (classify(err) !== DockerErrorCode.ResourceUnsupported) return {};
  return spec === undefined || spec.blkioWeight !== undefined ? { resource: 'blkioWeight' } : {};
}

/** Exec output kept at most (probe messages, not logs). */
const maxExecOutput = 10 * 1024;

function classifyOr(err: unknown, fallback: DockerErrorCode): DockerErrorCode {
  const code = classify(err);
  return code === DockerErrorCode.RequestFailed ? fallback : code;
}

async function* once(buf: Uint8Array): AsyncGenerator<Uint8Array> {
  yield buf;
  await Promise.resolve();
}

function processExit(child: ReturnType<typeof spawn>): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`tar exited with ${String(code)}: ${stderr.trim()}`));
    });
  });
}

export function toCreateOptions(spec: ContainerSpec): Dockerode.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports ?? []) {
    const key = `${p.containerPort}/${p.protocol ?? 'tcp'}`;
    exposed[key] = {};
    if (p.hostPort === undefined) continue; // exposed only: reachable on the container's networks
    (bindings[key] ??= []).push({ HostIp: p.hostIP ?? '0.0.0.0', HostPort: String(p.hostPort) });
  }
  // Legacy `Binds` create a missing host directory (what `docker -v` does); `Mounts` refuse it.
  const created = (spec.binds ?? []).filter((b) => b.createHostPath === true);
  const cpuPeriod = spec.cpuPeriod ?? (spec.cpuQuota === undefined ? undefined : 100_000);
  const hostConfig: Dockerode.HostConfig = {
    PortBindings: bindings,
    RestartPolicy: { Name: 'no' },
    ...(created.length === 0
      ? {}
      : { Binds: created.map((b) => `${b.hostPath}:${b.containerPath}${b.readOnly === true ? ':ro' : ''}`) }),
    Mounts: [
      ...(spec.binds ?? [])
        .filter((b) => b.createHostPath !== true)
        .map((b) => ({
          Type: 'bind' as const,
          Source: b.hostPath,
          Target: b.containerPath,
          ReadOnly: b.readOnly ?? false,
        })),
      ...(spec.volumes ?? []).map((v) => ({
        Type: 'volume' as const,
        Source: v.name,
        Target: v.containerPath,
        ReadOnly: v.readOnly ?? false,
        // Only Labels: NoCopy and DriverConfig keep the engine's defaults (the types want all three).
        ...(v.labels === undefined
          ? {}
          : { VolumeOptions: { Labels: { ...v.labels } } as Dockerode.MountSettings['VolumeOptions'] }),
      })),
    ],
    ...defined('Memory', spec.memoryBytes),
    ...defined('NanoCpus', spec.nanoCpus),
    ...defined('CpuQuota', spec.cpuQuota),
    ...defined('CpuPeriod', cpuPeriod),
    ...defined('PidsLimit', spec.pidsLimit),
    ...defined('BlkioWeight', spec.blkioWeight),
    ...(spec.ulimits === undefined
      ? {}
      : { Ulimits: spec.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) }),
    ...defined('NetworkMode', spec.network?.name),
  };
  return {
    name: spec.name,
    Image: spec.image,
    Env: envList(spec.env),
    Labels: { ...spec.labels },
    ExposedPorts: exposed,
    StopTimeout: spec.stopTimeoutSeconds ?? 10,
    ...defined('StopSignal', spec.stopSignal),
    ...(spec.cmd === undefined ? {} : { Cmd: [...spec.cmd] }),
    ...(spec.entrypoint === undefined ? {} : { Entrypoint: [...spec.entrypoint] }),
    ...defined('WorkingDir', spec.workingDir),
    ...defined('User', spec.user),
    HostConfig: hostConfig,
    ...(spec.network === undefined
      ? {}
      : {
          NetworkingConfig: {
            EndpointsConfig: { [spec.network.name]: { Aliases: [...(spec.network.aliases ?? [])] } },
          },
        }),
  };
}

function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const zeroTime = '0001-01-01T00:00:00Z';

function time(t: string | undefined): string | undefined {
  return t === undefined || t === '' || t === zeroTime ? undefined : t;
}

export function toContainerInfo(i: Dockerode.ContainerInspectInfo): ContainerInfo {
  const networks = Object.values(i.NetworkSettings.Networks ?? {});
  const ip = i.NetworkSettings.Networks?.bridge?.IPAddress || networks[0]?.IPAddress;
  return {
    id: i.Id,
    name: i.Name.replace(/^\//, ''),
    labels: { ...i.Config.Labels },
    state: i.State.Status as ContainerState,
    image: i.Config.Image,
    imageId: i.Image,
    createdAt: i.Created,
    ...optional('startedAt', time(i.State.StartedAt)),
    ...optional('finishedAt', time(i.State.FinishedAt)),
    exitCode: i.State.ExitCode,
    oomKilled: i.State.OOMKilled,
    restartCount: i.RestartCount,
    ...optional('ipAddress', i.State.Running && ip ? ip : undefined),
    ...optional('networks', userNetworks(i.NetworkSettings.Networks, i.State.Running)),
    ports: publishedPorts(
      i.HostConfig.PortBindings as Record<string, { HostIp?: string; HostPort?: string }[] | null>,
    ),
  };
}

/** Aliases (and, while running, the IPv4 address) per user-defined network; the engine's own short-id alias is left out. */
function userNetworks(
  networks: Record<string, { Aliases?: string[] | null; NetworkID?: string; IPAddress?: string }> | undefined,
  running: boolean,
): Record<string, { aliases: string[]; ipAddress?: string }> | undefined {
  const out: Record<string, { aliases: string[]; ipAddress?: string }> = {};
  for (const [name, n] of Object.entries(networks ?? {})) {
    if (name === 'bridge' || name === 'host' || name === 'none') continue;
    const aliases = (n.Aliases ?? []).filter((a) => !/^[0-9a-f]{12}$/.test(a));
    out[name] = running && n.IPAddress ? { aliases, ipAddress: n.IPAddress } : { aliases };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function publishedPorts(
  bindings: Record<string, { HostIp?: string; HostPort?: string }[] | null> | undefined,
): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [port, proto] = key.split('/');
    for (const b of list ?? []) {
      out.push({
        containerPort: Number(port),
        protocol: proto === 'udp' ? 'udp' : 'tcp',
        hostIP: b.HostIp || '0.0.0.0',
        hostPort: Number(b.HostPort),
      });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort);
}

/** An engine event message → ContainerEvent (undefined for non-container events). */
export function toContainerEvent(msg: unknown): ContainerEvent | undefined {
  const m = msg as {
    Type?: string;
    Action?: string;
    status?: string;
    id?: string;
    time?: number;
    timeNano?: number;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
  };
  if (m.Type !== undefined && m.Type !== 'container') return undefined;
  const raw = m.Action ?? m.status;
  const id = m.Actor?.ID ?? m.id;
  if (raw === undefined || id === undefined) return undefined;
  const attrs = { ...m.Actor?.Attributes };
  // `health_status: healthy`, `exec_start: sh -c ...`: the action is the part before the colon.
  const colon = raw.indexOf(':');
  const action = colon < 0 ? raw : raw.slice(0, colon);
  const detail = colon < 0 ? undefined : raw.slice(colon + 1).trim();
  const { name = '', image: _image, exitCode, signal: _signal, ...labels } = attrs;
  const timeMs = m.timeNano !== undefined ? Math.floor(m.timeNano / 1e6) : (m.time ?? 0) * 1000;
  return {
    action,
    id,
    name,
    labels,
    ...(exitCode === undefined ? {} : { exitCode: Number(exitCode) }),
    ...(action === 'health_status' && detail !== undefined ? { healthStatus: detail } : {}),
    timeMs,
  };
}
