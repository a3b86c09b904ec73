/**
 * Container services (`FROM`) through a ContainerEngine. Containers carry orch's labels, are
 * named `<project>-<service>`, and are adopted when they already exist (RECREATE never) or
 * replaced (RECREATE always). A stopped service's container is kept, as `docker compose` does on
 * Ctrl-C; `down` removes containers, never volumes. The Orchfile's resource directives become
 * engine limits ({@link containerFields}); a named VOLUME is the Docker volume `<project>_<name>`.
 */
import { createHash } from 'node:crypto';
import { errorMessage, isOrunError, OrunError } from '../../apis/errors.ts';
import { memoryBytes } from '../../apis/orchfile/index.ts';
import { projectPath, subst } from '../../apis/orchfile/render/index.ts';
import type { Clock } from '../clock/index.ts';
import {
  DockerErrorCode,
  type BindMount,
  type ContainerEngine,
  type ContainerSpec,
  type NamedVolume,
  type Ulimit,
} from '../docker/engine.ts';
import type { OutputSink } from './host.ts';
import { defaultNetworkName, LABELS, MANAGED_BY } from './labels.ts';
import { splitWords, type PreparedService } from './prepare.ts';
import type { Instance } from './types.ts';
import { MAX_PORT } from '../../apis/ports.ts';

export interface ContainerDriverOptions {
  readonly engine: ContainerEngine;
  readonly clock: Clock;
  readonly project: string;
  readonly containerName: (service: string) => string;
  /**
   * The project network every container joins, with its service name as a DNS alias (Compose's
   * `<project>_default`); created on the first start, labelled like the containers.
   * Default `<project>_default` ({@link defaultNetworkName}).
   */
  readonly network?: string;
  /** Container output lines (foreground runs). Default: not followed. */
  readonly output?: OutputSink;
  /** Something orch cannot honour (for the executor's warning events). */
  readonly warn: (service: string, message: string) => void;
  /** Fallback poll of a running container's state, besides `die` events. Default 2000. */
  readonly pollMs?: number;
  /** The `run.orcra.dev/managed-by` value this driver owns (and requires to adopt). Default `orch`. */
  readonly managedBy?: string;
  /** Extra labels on every container (not part of the config hash). Default none. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Replace an existing container whose config hash differs, whatever RECREATE says. Default
   * false: RECREATE never keeps it with a warning (orch's behaviour; `orch down` applies changes).
   */
  readonly replaceStale?: boolean;
}

export class ContainerDriver {
  readonly #o: ContainerDriverOptions;
  readonly #dieWaiters = new Map<string, Set<() => void>>();
  readonly #background = new Set<Promise<void>>();
  #network: Promise<void> | undefined;

  constructor(options: ContainerDriverOptions) {
    this.#o = options;
  }

  get networkName(): string {
    return this.#o.network ?? defaultNetworkName(this.#o.project);
  }

  /** Creates the project network once per driver (again after a failure). */
  #ensureNetwork(): Promise<void> {
    this.#network ??= this.#o.engine
      .ensureNetwork(this.networkName, {
        labels: {
          ...this.#o.labels,
          [LABELS.managedBy]: this.#o.managedBy ?? MANAGED_BY,
          [LABELS.project]: this.#o.project,
        },
      })
      .catch((err: unknown) => {
        this.#network = undefined;
        throw err;
      });
    return this.#network;
  }

  /**
   * Wakes exit watchers on `die` events of this project's containers until `signal` aborts.
   * Replays from its start time, so a container that dies before the subscription is seen.
   */
  async watchEvents(signal: AbortSignal): Promise<void> {
    const { engine, clock, project } = this.#o;
    let since = new Date(clock.now());
    while (!signal.aborted) {
      try {
        const events = engine.events(signal, {
          labels: { [LABELS.project]: project },
          actions: ['die'],
          since,
        });
        for await (const e of events) {
          since = new Date(e.timeMs);
          for (const wake of this.#dieWaiters.get(e.id) ?? []) wake();
        }
      } catch {
        // The engine went away: watchers keep polling; resubscribe after a pause.
      }
      await clock.sleep(1000, signal);
    }
  }

  /** Resolves when every log follower has ended (after the containers stopped or were released). */
  async drain(): Promise<void> {
    await Promise.all([...this.#background]);
  }

  /**
   * Creates (or adopts) and starts the service's container. `adoptId`: a container an earlier
   * executor left running; when it still runs with the same config hash it is taken over as it is,
   * even under RECREATE always.
   */
  async start(s: PreparedService, adoptId?: string): Promise<Instance> {
    const { engine } = this.#o;
    const managedBy = this.#o.managedBy ?? MANAGED_BY;
    const name = this.#o.containerName(s.name);
    const spec = this.#spec(s, name);
    const hash = spec.labels![LABELS.configHash]!;
    let existing = await engine.inspectContainer(name);
    if (existing !== undefined) {
      if (
        existing.labels[LABELS.managedBy] !== managedBy ||
        existing.labels[LABELS.project] !== this.#o.project
      ) {
        throw new OrunError(
          'NameConflict',
          `container name ${name} is taken by a container orch does not manage`,
          {
            context: { service: s.name, container: name },
          },
        );
      }
      // One of our extra labels (the agent's run.orcra.dev/node) says otherwise: another agent's
      // graph of the same name on this engine. Never remove or adopt it.
      const other = Object.entries(this.#o.labels ?? {}).find(
        ([k, v]) => existing!.labels[k] !== undefined && existing!.labels[k] !== v,
      );
      if (other !== undefined) {
        throw new OrunError(
          'NameConflict',
          `container name ${name} is taken by another owner's container (${other[0]}=${existing.labels[other[0]]}, ` +
            `this run's is ${other[1]}): same-named graphs on one engine would share containers, network and volumes; name one differently`,
          {
            context: { service: s.name, container: name, label: other[0], owner: existing.labels[other[0]] },
          },
        );
      }
      const stale = existing.labels[LABELS.configHash] !== hash;
      const adoptable = existing.id === adoptId && existing.state === 'running' && !stale;
      if (!adoptable && (s.spec.recreate === 'always' || (stale && this.#o.replaceStale === true))) {
        await engine.removeContainer(existing.id, { force: true });
        existing = undefined;
      } else if (stale) {
        this.#o.warn(
          s.name,
          `kept existing container ${name} (RECREATE never) although the Orchfile changed; run 'orch down' to apply the changes`,
        );
      }
    }
    let id: string;
    let adopted = false;
    const startedAt = this.#o.clock.now();
    await this.#ensureNetwork();
    if (existing === undefined) {
      if (!(await engine.imageExists(spec.image))) await engine.pullImage(spec.image);
      id = await this.#createAndStart(s.name, spec);
    } else {
      id = existing.id;
      adopted = existing.state === 'running';
      await engine.startContainer(id);
    }
    const watch = new AbortController();
    const exited = this.#watchExit(id, watch.signal);
    if (this.#o.output !== undefined)
      this.#follow(s.name, id, adopted ? 0 : undefined, startedAt, watch.signal);
    return {
      containerId: id,
      containerName: name,
      startedAt,
      exited,
      stop: async () => {
        await engine.stopContainer(id, { timeoutSeconds: Math.ceil(s.stopTimeoutMs / 1000) });
        await exited;
        watch.abort();
      },
      release: async () => {
        watch.abort();
        await exited;
      },
    };
  }

  /**
   * Creates and starts the container, reporting the engine's warnings. A host that cannot apply
   * IO_WEIGHT (`ContainerResourceUnsupported`, at create or at start) gets the container without
   * it and a warning; the config hash stays that of the Orchfile's spec.
   */
  async #createAndStart(service: string, spec: ContainerSpec): Promise<string> {
    const { engine } = this.#o;
    const onWarning = (w: string): void => this.#o.warn(service, `docker: ${w}`);
    const withoutIOWeight = async (err: unknown, created?: string): Promise<string> => {
      this.#o.warn(service, `IO_WEIGHT not applied (the engine cannot set it): ${errorMessage(err)}`);
      if (created !== undefined) await engine.removeContainer(created, { force: true });
      const { blkioWeight: _dropped, ...rest } = spec;
      const id = await engine.createContainer(rest, { onWarning });
      await engine.startContainer(id);
      return id;
    };
    const unsupportedIO = (err: unknown): boolean =>
      spec.blkioWeight !== undefined && isOrunError(err, DockerErrorCode.ResourceUnsupported);
    let id: string;
    try {
      id = await engine.createContainer(spec, { onWarning });
    } catch (err) {
      if (unsupportedIO(err)) return withoutIOWeight(err);
      throw err;
    }
    try {
      await engine.startContainer(id);
    } catch (err) {
      if (unsupportedIO(err)) return withoutIOWeight(err, id);
      throw err;
    }
    return id;
  }

  #spec(s: PreparedService, name: string): ContainerSpec {
    const { fields, unsupported } = containerFields(s, this.#o.project, {
      [LABELS.managedBy]: this.#o.managedBy ?? MANAGED_BY,
      [LABELS.project]: this.#o.project,
    });
    for (const message of unsupported) this.#o.warn(s.name, message);
    const spec: ContainerSpec = {
      name,
      image: subst(s.spec.image ?? '', s.vars),
      env: s.env,
      ports: s.spec.publish.map((p) => ({
        containerPort: p.container,
        hostPort: offsetPort(p.host, s),
        ...(p.address === undefined ? {} : { hostIP: p.address }),
      })),
      ...fields,
      network: { name: this.networkName, aliases: [s.name] },
      stopTimeoutSeconds: Math.ceil(s.stopTimeoutMs / 1000),
      ...(s.spec.cmd === undefined ? {} : { cmd: splitWords(subst(s.spec.cmd, s.vars)) }),
      ...(s.spec.entrypoint === undefined
        ? {}
        : { entrypoint: splitWords(subst(s.spec.entrypoint, s.vars)) }),
    };
    const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
    return {
      ...spec,
      labels: {
        ...this.#o.labels,
        [LABELS.managedBy]: this.#o.managedBy ?? MANAGED_BY,
        [LABELS.project]: this.#o.project,
        [LABELS.service]: s.name,
        [LABELS.configHash]: hash,
      },
    };
  }

  /** Resolves with the exit code once the container is no longer running (or gone: null). */
  async #watchExit(id: string, signal: AbortSignal): Promise<{ code: number | null }> {
    const { engine, clock } = this.#o;
    while (!signal.aborted) {
      let wake!: () => void;
      const died = new Promise<void>((r) => (wake = r));
      const set = this.#dieWaiters.get(id) ?? new Set();
      set.add(wake);
      this.#dieWaiters.set(id, set);
      try {
        const info = await engine.inspectContainer(id);
        if (info === undefined) return { code: null };
        if (info.state === 'exited' || info.state === 'dead') return { code: info.exitCode };
      } catch {
        // Engine unavailable for a moment: keep watching.
      }
      const ac = new AbortController();
      const onAbort = (): void => ac.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      await Promise.race([died, clock.sleep(this.#o.pollMs ?? 2000, ac.signal)]);
      ac.abort();
      signal.removeEventListener('abort', onAbort);
      set.delete(wake);
      if (set.size === 0) this.#dieWaiters.delete(id);
    }
    return { code: null };
  }

  #follow(
    service: string,
    id: string,
    tail: number | undefined,
    startedAt: number,
    signal: AbortSignal,
  ): void {
    const sink = this.#o.output!;
    const p = (async () => {
      try {
        const since = tail === undefined ? new Date(Math.floor(startedAt / 1000) * 1000) : undefined;
        for await (const l of this.#o.engine.containerLogs(id, {
          follow: true,
          signal,
          ...(tail === undefined ? { since } : { tail }),
        })) {
          sink(service, l.stream, l.line);
        }
      } catch (err) {
        this.#o.warn(service, `log stream ended: ${errorMessage(err)}`);
      }
    })();
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }
}

/** What {@link containerFields} maps; the rest of the spec (name, image, env, ports, cmd) is the driver's. */
export type ContainerFields = Pick<
  ContainerSpec,
  | 'binds'
  | 'volumes'
  | 'workingDir'
  | 'user'
  | 'memoryBytes'
  | 'nanoCpus'
  | 'cpuQuota'
  | 'cpuPeriod'
  | 'ulimits'
  | 'pidsLimit'
  | 'blkioWeight'
>;

/** The CFS period CPU_QUOTA is expressed against (systemd's and Docker's default, 100 ms). */
export const CPU_PERIOD_US = 100_000;

/**
 * The Orchfile's VOLUME, WORKDIR, USER and resource directives as engine fields:
 *
 * | directive | field |
 * |---|---|
 * | `VOLUME /abs:/x`, `./rel:/x` | `binds` (relative to ORCH_PROJECT) |
 * | `VOLUME name:/x` | `volumes`: the Docker volume `<project>_<name>`, labelled `volumeLabels` |
 * | `WORKDIR /abs` | `workingDir` (a relative one is not applied: warning) |
 * | `USER u` | `user` (the parser allows USER only with RUN (C3); mapped should a spec carry it) |
 * | `MEMORY 512M` | `memoryBytes` (K/M/G are powers of 1024) |
 * | `CPU_QUOTA 50%` | `cpuQuota` = pct/100 × 100000 µs, `cpuPeriod` 100000 (wins over CPUS) |
 * | `CPUS 1.5` | `nanoCpus` = CPUS × 1e9 (when no CPU_QUOTA) |
 * | `LIMIT_NOFILE n`, `LIMIT_NPROC n` | `ulimits` nofile/nproc, soft = hard = n |
 * | `TASKS_MAX n` | `pidsLimit` |
 * | `IO_WEIGHT n` | `blkioWeight` |
 *
 * Fields are present only when their directive is (`binds` always), so a service using none of
 * them keeps the config hash it had before these were mapped. `unsupported` holds one warning per
 * directive that cannot be applied.
 */
export function containerFields(
  s: PreparedService,
  project: string,
  volumeLabels: Readonly<Record<string, string>> = {},
): { fields: ContainerFields; unsupported: string[] } {
  const unsupported: string[] = [];
  const r = s.spec.resources;
  const binds: BindMount[] = [];
  const volumes: NamedVolume[] = [];
  for (const v of s.spec.volumes) {
    const containerPath = subst(v.destination, s.vars);
    if (v.isNamed) {
      volumes.push({
        name: `${project}_${subst(v.source, s.vars)}`,
        containerPath,
        ...(Object.keys(volumeLabels).length === 0 ? {} : { labels: { ...volumeLabels } }),
      });
    } else {
      binds.push({ hostPath: projectPath(v.source, s.vars), containerPath });
    }
  }
  const fields: ContainerFields = { binds };
  if (volumes.length > 0) fields.volumes = volumes;
  if (s.workdir !== undefined) {
    if (s.workdir.startsWith('/')) fields.workingDir = s.workdir;
    else
      unsupported.push(
        `WORKDIR ${s.workdir} not applied: a container's working directory must be absolute (the image's WORKDIR is kept)`,
      );
  }
  if (s.spec.user !== undefined) fields.user = subst(s.spec.user, s.vars);
  if (r.memory !== undefined) {
    const bytes = memoryBytes(r.memory);
    if (bytes === undefined) unsupported.push(`MEMORY ${r.memory} not applied: not a size such as 512M`);
    else fields.memoryBytes = bytes;
  }
  if (r.cpuQuota !== undefined) {
    fields.cpuQuota = Math.max(1000, Math.round((parseInt(r.cpuQuota, 10) / 100) * CPU_PERIOD_US));
    fields.cpuPeriod = CPU_PERIOD_US;
  } else if (r.cpus !== undefined) {
    fields.nanoCpus = Math.round(r.cpus * 1e9);
  }
  const ulimits: Ulimit[] = [];
  if (r.limitNofile !== undefined) ulimits.push({ name: 'nofile', soft: r.limitNofile, hard: r.limitNofile });
  if (r.limitNproc !== undefined) ulimits.push({ name: 'nproc', soft: r.limitNproc, hard: r.limitNproc });
  if (ulimits.length > 0) fields.ulimits = ulimits;
  if (r.tasksMax !== undefined) fields.pidsLimit = r.tasksMax;
  if (r.ioWeight !== undefined) fields.blkioWeight = r.ioWeight;
  return { fields, unsupported };
}

/** PUBLISH's host port plus PORT_OFFSET (`orch up --port-offset`, ServiceGraph `portOffset`). */
export function offsetPort(host: number, s: PreparedService): number {
  const offset = Number(s.vars.get('PORT_OFFSET') ?? '0');
  const port = host + (Number.isInteger(offset) ? offset : 0);
  if (port > MAX_PORT) {
    throw new OrunError('PortOutOfRange', `PUBLISH host port ${host} + PORT_OFFSET ${offset} is over 65535`, {
      context: { service: s.name, port: host, offset },
    });
  }
  return port;
}
