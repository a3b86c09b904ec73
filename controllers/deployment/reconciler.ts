/**
 * The Deployment reconciler. `reconcile(key)` re-reads the Deployment from the store and its
 * containers from the engine, then runs a short list of steps:
 *
 *   observe → (gone? prune) → desired → gated? → node network → pick current
 *     no current container with the desired hash → ensure image → by strategy (strategy.ts):
 *         Recreate: stop old → create + start;  RollingUpdate: create + start beside the old one
 *     current exists, old ones still alive       → rollout in progress (probe, switch, drain, stop old)
 *     current exists alone                       → supervise (start/crash/unpause/probes)
 *   → write status (only when changed; it names the container traffic goes to) → requeueAfter
 *
 * No step sleeps or retries: time comes back as `requeueAfter`, errors are thrown to the queue's
 * rate limiter. Memory that is not in the store (probe state, crash back-off, restart counts,
 * stall gates) is keyed by container id or object key and lost on restart, which only ever makes
 * orun more patient, never restart anything.
 */
import { errorMessage, isOrunError, type OrunError } from '../../apis/errors.ts';
import { objectKey, splitKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { DockerErrorCode, PERMANENT_DOCKER_ERRORS, type ContainerInfo } from '../../runtime/docker/engine.ts';
import {
  terminalError,
  type ReconcileContext,
  type ReconcileResult,
} from '../../runtime/controller/index.ts';
import type { DeploymentDeps } from './deps.ts';
import { deploymentSelector, desiredContainer, Label, MANAGED_BY, managedSelector } from './desired.ts';
import { ensureImage, isAlive, permanentFailure, retire, stall, writeSecretFiles } from './rollout.ts';
import { Memory, resolveDeps, type Outcome, type Resolved, type Run } from './run.ts';
import type { DeploymentView } from './spec.ts';
import { buildStatus, engineUnavailableStatus, Reason, sameStatus } from './status.ts';
import { bestOld, keepAfterFailedRollout, progress, recreate, startBeside } from './strategy.ts';
import { containerIP, supervise } from './supervise.ts';

/** Until the store has its first snapshot, look again this soon instead of pruning. */
const NOT_SYNCED_RECHECK_MS = 1_000;
/** How soon a pruned Deployment looks again whether the node network is still used. */
const NETWORK_RECHECK_MS = 1_000;
/** While the engine does not answer, look again this often (its return also enqueues every key). */
const ENGINE_RECHECK_MS = 10_000;

export class DeploymentReconciler {
  readonly #deps: Resolved;
  readonly #mem: Memory;

  constructor(deps: DeploymentDeps) {
    this.#deps = resolveDeps(deps);
    this.#mem = new Memory(deps, this.#deps.backoff);
  }

  /**
   * True once for a container this reconciler started (so its engine `start` event need not
   * enqueue another reconcile: the one that started it has inspected and probed it already).
   */
  startedItself(id: string): boolean {
    return this.#mem.ownStarts.delete(id);
  }

  /**
   * A person asked (`orunctl reconcile deploy NAME`): the next reconcile of `key` acts at once,
   * as Flux's reconcile request does. A stall's back-off gate and a missed progress deadline's
   * "not this version again" are dropped, so a cause fixed outside Git (a missing host path
   * created, a registry back, a dependency up) is tried now, not after the back-off or a commit.
   */
  retryNow(key: string): void {
    this.#mem.gates.clear(key);
    this.#mem.failedRollouts.delete(key);
  }

  async reconcile(ctx: ReconcileContext): Promise<ReconcileResult | void> {
    try {
      return await this.#reconcile(ctx);
    } catch (err) {
      if (isOrunError(err, DockerErrorCode.Unavailable)) return this.#engineUnavailable(ctx, err);
      throw err;
    }
  }

  async #reconcile(ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const { name } = splitKey(ctx.key);
    const obj = this.#deps.store.get(ctx.key);
    const observed = await this.#deps.engine.listContainers(deploymentSelector(name, this.#deps.nodeName));
    if (obj === undefined) return this.#prune(ctx, name, observed);

    const run = this.#run(ctx, name, obj, observed);
    try {
      return await this.#converge(ctx, run, observed);
    } catch (err) {
      if (!isOrunError(err) || !PERMANENT_DOCKER_ERRORS.has(err.code)) throw err;
      // No retry fixes it: say Stalled with the engine's reason, and let the queue forget the key.
      await this.#finish(run, permanentFailure(run, err));
      throw terminalError(err);
    }
  }

  async #converge(
    ctx: ReconcileContext,
    run: Run,
    observed: readonly ContainerInfo[],
  ): Promise<ReconcileResult | void> {
    const gated = this.#mem.gates.check(ctx.key, run.desired.hash, this.#deps.clock.now());
    if (gated !== undefined)
      return this.#finish(run, { verdict: gated.verdict, requeueAfter: gated.remainingMs });

    await this.#ensureNetwork(run);
    const { current, others } = pickCurrent(observed, run.desired.hash);
    // Stopped old versions hold nothing and serve nothing: remove them at once.
    await retire(
      run,
      others.filter((c) => !isAlive(c)),
      'outdated container',
    );
    const old = others.filter(isAlive);
    let outcome: Outcome;
    if (current === undefined) outcome = await this.#rollout(run, old);
    else {
      const attached = await this.#attach(run, current);
      outcome =
        old.length === 0
          ? await this.#settled(run, attached)
          : run.desired.strategy === 'Recreate'
            ? await this.#keep(run, attached, old)
            : await progress(run, attached, old);
    }
    if (outcome.held !== true) this.#mem.gates.clear(ctx.key);
    return this.#finish(run, outcome);
  }

  /**
   * The engine does not answer: nothing can be observed or changed (and nothing is pruned). The
   * status says Ready=Unknown/EngineUnavailable over the last known facts; the key is looked at
   * again later, and at once when the engine answers again (the controller's engineChanged$ watch).
   */
  async #engineUnavailable(ctx: ReconcileContext, err: OrunError): Promise<ReconcileResult> {
    const obj = this.#deps.store.get(ctx.key);
    if (obj !== undefined) {
      const message = `the container engine does not answer (${errorMessage(err)}); the last known state is shown and nothing is changed until it answers`;
      const status = engineUnavailableStatus(obj.status, message, this.#deps.clock.now());
      if (!sameStatus(obj.status, status)) await this.#deps.store.updateStatus(ctx.key, status);
    }
    ctx.log.debug({ err: errorMessage(err) }, 'engine unavailable; nothing changed');
    return { requeueAfter: ENGINE_RECHECK_MS };
  }

  /** No container with the desired hash: image first (old one keeps running if that fails). */
  async #rollout(run: Run, old: ContainerInfo[]): Promise<Outcome> {
    this.#mem.secretsPruned.delete(run.key); // files of a new hash may be written below
    if (run.desired.undecryptable.length > 0) {
      // Handing ciphertext or an empty value to the app would be a silent misconfiguration.
      // Only this Deployment stalls; an old container keeps running. Messages name keys, never values.
      const message = `secret not available: ${run.desired.undecryptable.join('; ')}`;
      run.event('Warning', Reason.SecretNotDecrypted, message);
      return stall(run, { kind: 'stalled', reason: Reason.SecretNotDecrypted, message });
    }
    const serving = bestOld(old);
    if (serving !== undefined) {
      const kept = await keepAfterFailedRollout(run, serving);
      if (kept !== undefined) return kept;
    }
    await this.#announce(run, old);
    const imageFailure = await ensureImage(run);
    if (imageFailure !== undefined) return imageFailure;
    const filesFailure = await writeSecretFiles(run);
    if (filesFailure !== undefined) return filesFailure;
    if (run.desired.strategy === 'Recreate' || serving === undefined)
      return recreate(run, old, (o) => this.#finish(run, o).then(() => this.#reread(run)));
    return startBeside(run, old);
  }

  /** The node network exists (once per process); created when missing. */
  async #ensureNetwork(run: Run): Promise<void> {
    const net = this.#deps.networkName;
    if (net === undefined || this.#mem.networkReady) return;
    await this.#deps.engine.ensureNetwork(net, { labels: { [Label.managedBy]: 'orun' } });
    this.#mem.networkReady = true;
    run.log.debug({ network: net }, 'node network ready');
  }

  /**
   * A running container not on the node network (created by an older orun, or disconnected by
   * hand) is attached to it with its DNS alias, without a restart.
   */
  async #attach(run: Run, c: ContainerInfo): Promise<ContainerInfo> {
    const net = this.#deps.networkName;
    if (net === undefined || c.state !== 'running' || c.networks?.[net] !== undefined) return c;
    await this.#deps.engine.connectNetwork(c.id, net, [run.name]);
    run.event('Normal', 'Attached', `Attached container ${c.name} to network ${net} as ${run.name}`);
    return (await this.#deps.engine.inspectContainer(c.id)) ?? c;
  }

  /**
   * Says "in progress" before the slow part (pull, stop grace, probes), so `get -w` and kstatus
   * clients see Reconciling/Ready=False for the new generation at once, not the old container's
   * Ready=True until the rollout has finished.
   */
  async #announce(run: Run, old: ContainerInfo[]): Promise<void> {
    const running = old.find((c) => c.state === 'running') ?? old[0];
    const verdict =
      running === undefined
        ? { kind: 'progressing' as const, reason: Reason.Creating, message: 'creating the container' }
        : {
            kind: 'progressing' as const,
            reason: Reason.Replacing,
            message: `spec changed: replacing container ${running.name} (${running.id.slice(0, 12)})`,
          };
    await this.#finish(run, { verdict, ...(running === undefined ? {} : { container: running }) });
    this.#reread(run);
  }

  /** Later writes in this reconcile compare against (and keep transition times of) the last one. */
  #reread(run: Run): void {
    run.obj = this.#deps.store.get(run.key) ?? run.obj;
  }

  /**
   * The only container: its secret files are put back if a reboot emptied the tmpfs, and the files
   * of other spec hashes (containers already gone) are removed, once per hash settled.
   */
  async #settled(run: Run, current: ContainerInfo): Promise<Outcome> {
    const filesFailure = await writeSecretFiles(run);
    if (filesFailure !== undefined) return filesFailure;
    if (this.#mem.secretsPruned.get(run.key) !== run.desired.hash) {
      await this.#deps.secretFiles?.prune(run.name, run.desired.hash);
      this.#mem.secretsPruned.set(run.key, run.desired.hash);
    }
    return supervise(run, current);
  }

  async #keep(run: Run, current: ContainerInfo, duplicates: ContainerInfo[]): Promise<Outcome> {
    await retire(run, duplicates, 'duplicate or outdated container');
    // A tmpfs is empty after a reboot: put the files back before the container is started again.
    const filesFailure = await writeSecretFiles(run);
    if (filesFailure !== undefined) return filesFailure;
    return supervise(run, current);
  }

  /** The Deployment is gone: remove its containers (never volumes or host paths). */
  async #prune(
    ctx: ReconcileContext,
    name: string,
    observed: ContainerInfo[],
  ): Promise<ReconcileResult | void> {
    if (!this.#deps.hasSynced()) return { requeueAfter: NOT_SYNCED_RECHECK_MS };
    const { engine, stopTimeoutSeconds, recordEvent } = this.#deps;
    for (const c of observed) {
      if (c.state === 'running' || c.state === 'restarting' || c.state === 'paused') {
        await engine.stopContainer(c.id, { timeoutSeconds: stopTimeoutSeconds });
      }
      await engine.removeContainer(c.id);
      this.#mem.forgetContainer(c.id);
      recordEvent(
        name,
        'Normal',
        'Pruned',
        `Deployment removed from Git: removed container ${c.name} (${c.id.slice(0, 12)}); volumes kept`,
      );
      ctx.log.info({ containerID: c.id }, 'pruned container');
    }
    await this.#deps.secretFiles?.prune(name);
    this.#mem.secretsPruned.delete(ctx.key);
    this.#mem.gates.clear(ctx.key);
    this.#mem.metrics.forget(name);
    return this.#removeNetworkWhenUnused(ctx);
  }

  /**
   * The node network goes with the last managed container of this node (stopped ones included: a
   * stopped container would not start again without it). Only a network orun made; one that a
   * container orun does not manage still uses is kept (dockerd refuses, logged). The next
   * Deployment creates it again (`#ensureNetwork` checks again after this).
   */
  async #removeNetworkWhenUnused(ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const { engine, networkName: net, nodeName, store } = this.#deps;
    if (net === undefined || nodeName === undefined) return;
    const left = await engine.listContainers(managedSelector(nodeName));
    if (left.length > 0) {
      // Level-based: containers of Deployments also gone from Git are being removed by other
      // workers (or will be): look again shortly rather than count on whose removal ends last.
      // Containers of Deployments still wanted (or a ServiceGraph's, which have no Deployment
      // label) keep the network; their own removal checks again.
      const goneToo = left.some((c) => {
        const d = c.labels[Label.deployment];
        return d !== undefined && store.get(objectKey('Deployment', d)) === undefined;
      });
      return goneToo ? { requeueAfter: NETWORK_RECHECK_MS } : undefined;
    }
    const info = await engine.inspectNetwork(net);
    if (info === undefined || info.labels[Label.managedBy] !== MANAGED_BY) return;
    this.#mem.networkReady = false;
    try {
      await engine.removeNetwork(net);
      ctx.log.info({ network: net }, 'node network removed: no managed container left on this node');
    } catch (err) {
      ctx.log.warn({ network: net, err: errorMessage(err) }, 'node network kept: still in use');
    }
  }

  async #finish(run: Run, o: Outcome): Promise<ReconcileResult | void> {
    const { store, clock } = this.#deps;
    const serving = this.#serving(run, o);
    const c = serving ?? o.container;
    const probed = o.container ?? c;
    const probe = probed === undefined ? undefined : this.#mem.probes.get(probed.id)?.last;
    const ip = serving === undefined ? undefined : containerIP(serving, this.#deps.networkName);
    const next =
      o.container !== undefined && serving !== undefined && o.container.id !== serving.id
        ? o.container
        : undefined;
    const status = buildStatus({
      generation: run.obj.metadata.generation,
      verdict: o.verdict,
      ...(c === undefined ? {} : { container: c }),
      ready: serving !== undefined,
      ...(ip === undefined ? {} : { ip }),
      strategy: run.desired.strategy,
      ...(next === undefined ? {} : { rollout: { container: next, phase: o.verdict.reason } }),
      specHash: run.desired.hash,
      restarts: c === undefined ? 0 : this.#restarts(run, c.id),
      ...(probe === undefined ? {} : { probe }),
      now: clock.now(),
      ...(run.obj.status === undefined ? {} : { previous: run.obj.status }),
    });
    if (!sameStatus(run.obj.status, status)) await store.updateStatus(run.key, status);
    this.#mem.metrics.ready.set({ deployment: run.name }, status.ready === true ? 1 : 0);
    return o.requeueAfter === undefined ? undefined : { requeueAfter: o.requeueAfter };
  }

  /**
   * The container traffic goes to: the outcome's own choice; else its container when ready; else
   * the old version the last status served, as long as it is alive (a rollout or a failed image
   * pull in progress must not take the route away from a container that still runs).
   */
  #serving(run: Run, o: Outcome): ContainerInfo | undefined {
    if (o.serving !== undefined) return run.alive.has(o.serving.id) ? o.serving : undefined;
    if (o.verdict.kind === 'ready') return o.container;
    const prev = run.obj.status;
    if (prev?.ready !== true || prev.containerID === undefined) return undefined;
    const c = run.alive.get(prev.containerID);
    return c !== undefined && c.labels[Label.specHash] !== run.desired.hash ? c : undefined;
  }

  /** Restarts of this container: ours since we saw it, else what the last status said. */
  #restarts(run: Run, id: string): number {
    const mine = this.#mem.restarts.get(id);
    if (mine !== undefined) return mine;
    const prev = run.obj.status;
    const carried = prev?.containerID === id ? (prev.restarts ?? 0) : 0;
    if (carried > 0) this.#mem.restarts.set(id, carried);
    return carried;
  }

  #run(ctx: ReconcileContext, name: string, obj: DeploymentView, observed: readonly ContainerInfo[]): Run {
    const { recordEvent, secretHashKey, resolveSecret, secretKeys, secretFiles, nodeName, networkName } =
      this.#deps;
    const codeDir = this.#deps.codeDir?.();
    return {
      key: ctx.key,
      name,
      obj,
      desired: desiredContainer(obj, {
        ...(codeDir === undefined ? {} : { codeDir }),
        ...(secretHashKey === undefined ? {} : { secretHashKey }),
        ...(resolveSecret === undefined ? {} : { resolveSecret }),
        ...(secretKeys === undefined ? {} : { secretKeys }),
        ...(secretFiles === undefined ? {} : { secretFilesDir: (d, h) => secretFiles.dir(d, h) }),
        ...(nodeName === undefined ? {} : { nodeName }),
        ...(networkName === undefined ? {} : { networkName }),
      }),
      alive: new Map(observed.filter(isAlive).map((c) => [c.id, c])),
      signal: ctx.signal,
      log: ctx.log,
      deps: this.#deps,
      mem: this.#mem,
      event: (type, reason, message) => recordEvent(name, type, reason, message),
    };
  }
}

/**
 * The container to keep: the desired hash, preferring running, then the newest. Everything else
 * (other hashes, duplicates left by a crash mid-rollout) is to be retired.
 */
export function pickCurrent(
  observed: readonly ContainerInfo[],
  hash: string,
): { current: ContainerInfo | undefined; others: ContainerInfo[] } {
  const rank = (c: ContainerInfo): number => (c.state === 'running' ? 1 : 0);
  const matching = observed
    .filter((c) => c.labels[Label.specHash] === hash)
    .sort((a, b) => rank(b) - rank(a) || b.createdAt.localeCompare(a.createdAt));
  const current = matching[0];
  return { current, others: observed.filter((c) => c !== current) };
}
