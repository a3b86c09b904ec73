/**
 * Container services (`FROM`) through a ContainerEngine. Containers carry orch's labels, are
 * named `<project>-<service>`, and are adopted when they already exist (RECREATE never) or
 * replaced (RECREATE always). A stopped service's container is kept, as `docker compose` does on
 * Ctrl-C; `down` removes containers, never volumes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import { projectPath, subst } from '../../apis/orchfile/render/index.ts';
import type { Clock } from '../clock/index.ts';
import type { BindMount, ContainerEngine, ContainerSpec } from '../docker/engine.ts';
import type { OutputSink } from './host.ts';
import { LABELS, MANAGED_BY } from './labels.ts';
import { splitWords, type PreparedService } from './prepare.ts';
import type { Instance } from './types.ts';

export interface ContainerDriverOptions {
  readonly engine: ContainerEngine;
  readonly clock: Clock;
  readonly project: string;
  readonly containerName: (service: string) => string;
  /**
   * Where named volumes live: `VOLUME data:/x` binds `<namedVolumeDir>/<project>_data` (created
   * when missing, never removed). The engine interface has no named volumes. Default: none, and a
   * named VOLUME fails the service with `UnsupportedVolume`.
   */
  readonly namedVolumeDir?: string;
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

  constructor(options: ContainerDriverOptions) {
    this.#o = options;
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
          `orch: ${s.name}: container name ${name} is taken by a container orch does not manage`,
          {
            context: { service: s.name, container: name },
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
    if (existing === undefined) {
      if (!(await engine.imageExists(spec.image))) await engine.pullImage(spec.image);
      id = await engine.createContainer(spec);
    } else {
      id = existing.id;
      adopted = existing.state === 'running';
    }
    const startedAt = this.#o.clock.now();
    await engine.startContainer(id);
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

  #spec(s: PreparedService, name: string): ContainerSpec {
    const r = s.spec.resources;
    const unsupported = [
      s.spec.workdir !== undefined && 'WORKDIR',
      r.memory !== undefined && 'MEMORY',
      r.cpus !== undefined && 'CPUS',
      r.cpuQuota !== undefined && 'CPU_QUOTA',
      r.limitNofile !== undefined && 'LIMIT_NOFILE',
      r.limitNproc !== undefined && 'LIMIT_NPROC',
      r.tasksMax !== undefined && 'TASKS_MAX',
      r.ioWeight !== undefined && 'IO_WEIGHT',
    ].filter((x): x is string => x !== false);
    if (unsupported.length > 0) {
      this.#o.warn(
        s.name,
        `not applied to the container (the engine interface has no such option): ${unsupported.join(', ')}`,
      );
    }
    const binds: BindMount[] = s.spec.volumes.map((v) => ({
      hostPath: v.isNamed ? this.#namedVolume(s, subst(v.source, s.vars)) : projectPath(v.source, s.vars),
      containerPath: subst(v.destination, s.vars),
    }));
    const spec: ContainerSpec = {
      name,
      image: subst(s.spec.image ?? '', s.vars),
      env: s.env,
      ports: s.spec.publish.map((p) => ({
        containerPort: p.container,
        hostPort: p.host,
        ...(p.address === undefined ? {} : { hostIP: p.address }),
      })),
      binds,
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

  #namedVolume(s: PreparedService, source: string): string {
    if (this.#o.namedVolumeDir === undefined) {
      throw new OrunError(
        'UnsupportedVolume',
        `orch: ${s.name}: named VOLUME '${source}' needs a named-volume directory`,
        {
          context: { service: s.name, volume: source },
        },
      );
    }
    const dir = join(this.#o.namedVolumeDir, `${this.#o.project}_${source}`);
    mkdirSync(dir, { recursive: true });
    return dir;
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
