/**
 * Steps that change which container exists: get the image, retire old containers, create and
 * start the new one. The image comes first so a failed pull or build leaves the old container
 * running (transactional apply: keep the last good state on failure).
 */
import { errorMessage, isOrunError, OrunError } from '../../apis/errors.ts';
import { DockerErrorCode, type ContainerInfo } from '../../runtime/docker/engine.ts';
import { backoffDelay } from './backoff.ts';
import { formatDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import type { Outcome, Run } from './run.ts';
import { Reason, type Verdict } from './status.ts';

/** Pulls or builds the desired image as its policy says. Undefined when the image is in place. */
export async function ensureImage(run: Run): Promise<Outcome | undefined> {
  const { engine } = run.deps;
  const plan = run.desired.image;
  const present = await engine.imageExists(plan.ref);
  if (plan.kind === 'build') {
    if (present) return undefined; // build-once: the tag is derived from the build inputs
    run.event('Normal', 'Building', `Building image "${plan.ref}" from ${plan.contextDir}`);
    try {
      await engine.buildImage(
        {
          contextDir: plan.contextDir,
          tag: plan.ref,
          buildArgs: plan.args,
          ...(plan.dockerfile === undefined ? {} : { dockerfile: plan.dockerfile }),
          onProgress: (line) => run.log.debug({ image: plan.ref, line }, 'build progress'),
        },
        run.signal,
      );
    } catch (err) {
      if (!isOrunError(err, DockerErrorCode.ImageBuildFailed)) throw err;
      return retryWithBackoff(run, Reason.BuildFailed, `building image "${plan.ref}": ${errorMessage(err)}`);
    }
    run.event('Normal', 'Built', `Built image "${plan.ref}"`);
    return undefined;
  }
  if (present && plan.policy !== 'Always') return undefined;
  if (plan.policy === 'Never') {
    const msg = `image "${plan.ref}" is not present and imagePullPolicy is Never`;
    return stall(run, { kind: 'stalled', reason: Reason.ImageNeverPull, message: msg });
  }
  run.event('Normal', 'Pulling', `Pulling image "${plan.ref}"`);
  try {
    await engine.pullImage(plan.ref, run.signal);
  } catch (err) {
    if (!isOrunError(err, DockerErrorCode.ImagePullFailed)) throw err;
    return retryWithBackoff(run, Reason.ImagePullFailed, `pulling image "${plan.ref}": ${errorMessage(err)}`);
  }
  run.event('Normal', 'Pulled', `Successfully pulled image "${plan.ref}"`);
  return undefined;
}

/** Writes the container's secret files to the tmpfs (a no-op when they are there). */
export async function writeSecretFiles(run: Run): Promise<Outcome | undefined> {
  const { secretFiles } = run.deps;
  if (secretFiles === undefined || run.desired.secretFiles.length === 0) return undefined;
  try {
    await secretFiles.write(run.name, run.desired.hash, run.desired.secretFiles);
  } catch (err) {
    if (!isOrunError(err)) throw err;
    const message = `secret files: ${errorMessage(err)}`;
    run.event('Warning', 'Failed', message);
    return stall(run, { kind: 'stalled', reason: Reason.SecretFilesUnavailable, message });
  }
  return undefined;
}

/** Running, restarting or paused: holds its resources (ports, name) and may serve. */
export function isAlive(c: Pick<ContainerInfo, 'state'>): boolean {
  return c.state === 'running' || c.state === 'restarting' || c.state === 'paused';
}

/**
 * Stops (gracefully: the container's own stop signal and grace period) then removes containers
 * that are not (or no longer) wanted. Never their volumes.
 */
export async function retire(run: Run, containers: readonly ContainerInfo[], why: string): Promise<void> {
  await stopAlive(run, containers, why);
  await removeStopped(run, containers, why);
}

/**
 * The graceful-stop half of {@link retire}: the alive ones among `containers` stop, all at once
 * (several old containers are left when commits came during a rollout; one after the other, each
 * would wait out its grace before the next got its signal). Resolves when all have stopped;
 * rejects with the first failure after that.
 */
export async function stopAlive(run: Run, containers: readonly ContainerInfo[], why: string): Promise<void> {
  const { engine } = run.deps;
  const alive = containers.filter(isAlive);
  for (const c of alive)
    run.event('Normal', 'Killing', `Stopping container ${c.name} (${c.id.slice(0, 12)}): ${why}`);
  const stops = await Promise.allSettled(
    alive.map(async (c) => {
      // No timeout given: the engine uses the container's own (its stopGracePeriod at creation).
      await engine.stopContainer(c.id);
      run.alive.delete(c.id);
      run.log.info({ containerID: c.id, why }, 'container stopped');
    }),
  );
  const failed = stops.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The remove half of {@link retire}: `containers` (stopped by now) go, never their volumes. */
export async function removeStopped(
  run: Run,
  containers: readonly ContainerInfo[],
  why: string,
): Promise<void> {
  const { engine } = run.deps;
  for (const c of containers) {
    await engine.removeContainer(c.id);
    run.alive.delete(c.id);
    run.mem.forgetContainer(c.id);
    run.log.info({ containerID: c.id, why }, 'container removed');
  }
}

/** Creates and starts the desired container. Returns the fresh container, or an outcome on failure. */
export async function createAndStart(run: Run): Promise<ContainerInfo | Outcome> {
  const id = await createDesired(run);
  return typeof id === 'string' ? startExisting(run, id) : id;
}

/** Creates (does not start) the desired container: its id, or an outcome on failure. */
export async function createDesired(run: Run): Promise<string | Outcome> {
  const { engine } = run.deps;
  let id: string;
  try {
    // The only place secret env values are revealed; the spec is never logged or kept.
    id = await engine.createContainer(run.desired.containerSpec());
  } catch (err) {
    return createFailure(run, err);
  }
  run.event('Normal', 'Created', `Created container ${run.desired.name} (${id.slice(0, 12)})`);
  return id;
}

/** Starts a created (or exited) container; a taken host port stalls instead of retrying hot. */
export async function startExisting(run: Run, id: string): Promise<ContainerInfo | Outcome> {
  const { engine, clock } = run.deps;
  run.mem.ownStarts.add(id); // before the call: its event may come back before the answer
  try {
    await engine.startContainer(id);
  } catch (err) {
    run.mem.ownStarts.delete(id);
    if (!isOrunError(err, DockerErrorCode.HostPortConflict)) throw err;
    const message = `starting container ${run.desired.name}: ${errorMessage(err)}`;
    run.event('Warning', 'Failed', message);
    return stall(run, { kind: 'stalled', reason: Reason.HostPortConflict, message });
  }
  run.mem.crash.recordStart(id, clock.now());
  run.event('Normal', 'Started', `Started container ${run.desired.name}`);
  const info = await engine.inspectContainer(id);
  if (info === undefined) {
    throw new OrunError(
      'ContainerVanished',
      `deployment ${run.name}: inspect after start: container ${id} is gone`,
    );
  }
  run.alive.set(id, info);
  return info;
}

function createFailure(run: Run, err: unknown): Outcome {
  const message = `creating container ${run.desired.name}: ${errorMessage(err)}`;
  if (isOrunError(err, DockerErrorCode.InvalidMount)) {
    run.event('Warning', 'Failed', message);
    return stall(run, { kind: 'stalled', reason: Reason.InvalidMount, message });
  }
  if (isOrunError(err, DockerErrorCode.NameConflict)) {
    // Our own containers were listed and retired already, so the name belongs to a stranger.
    const msg = `${message} (a container not managed by orun has this name; remove or rename it)`;
    run.event('Warning', 'Failed', msg);
    return stall(run, { kind: 'stalled', reason: Reason.NameConflict, message: msg });
  }
  throw err;
}

/**
 * Stalls until a person (or a new spec) fixes it. Retried with the back-off policy (10 s, 20 s …)
 * capped at `stalledRetryMs`: a port freed a moment later is picked up soon, a real conflict
 * settles at one attempt per 5 min, never a hot loop.
 */
export function stall(run: Run, verdict: Verdict): Outcome {
  const { clock, stalledRetryMs, backoff } = run.deps;
  const ms = run.mem.gates.hold(run.key, run.desired.hash, verdict, clock.now(), (n) =>
    Math.min(stalledRetryMs, backoffDelay(n, backoff)),
  );
  run.log.warn({ reason: verdict.reason, retryInMs: ms }, 'deployment stalled');
  return { verdict, requeueAfter: ms, held: true };
}

/**
 * A failure no retry fixes (the engine refuses the configuration, or the process cannot start:
 * PERMANENT_DOCKER_ERRORS): Stalled with the error's code as the reason and the engine's message.
 * The gate holds this spec hash for `stalledRetryMs`, so engine events do not hammer it; the
 * caller throws a TerminalError so the work queue forgets the key. A new spec hash opens the gate.
 */
export function permanentFailure(run: Run, err: OrunError): Outcome {
  const { clock, stalledRetryMs } = run.deps;
  const message = errorMessage(err);
  const verdict: Verdict = { kind: 'stalled', reason: err.code, message };
  run.mem.gates.hold(run.key, run.desired.hash, verdict, clock.now(), () => stalledRetryMs);
  run.event('Warning', 'Failed', message);
  run.log.warn({ reason: err.code }, 'deployment stalled: no retry fixes this spec');
  return { verdict, held: true };
}

function retryWithBackoff(run: Run, reason: string, message: string): Outcome {
  const { clock, backoff } = run.deps;
  const verdict: Verdict = { kind: 'stalled', reason, message };
  const ms = run.mem.gates.hold(run.key, run.desired.hash, verdict, clock.now(), (n) =>
    backoffDelay(n, backoff),
  );
  run.event('Warning', 'Failed', message);
  run.event('Normal', 'BackOff', `Back-off ${formatDuration(ms, 1000)} before retrying: ${reason}`);
  run.log.warn({ reason, retryInMs: ms }, 'image not ready, backing off');
  return { verdict, requeueAfter: ms, held: true };
}
