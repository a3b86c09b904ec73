/**
 * Probe state per running container, kept in controller memory keyed by container id (never in
 * the store). A container starts in `starting`; the readiness probe runs every period until its
 * first success (then `ready`), or forever if never, reporting a timeout once. Liveness runs only
 * once the container is ready (so a slow start is not killed), every period, and asks for a
 * restart after `failureThreshold` consecutive failures. No readiness probe → ready as soon as it
 * runs. Readiness is not re-probed once passed: after that, liveness is the watchdog.
 */
import type { ProbeSpec } from './spec.ts';

export type ProbeType = 'readiness' | 'liveness';

export interface ProbeResult {
  type: ProbeType;
  ok: boolean;
  /** Human text; never contains env values. */
  message: string;
  statusCode?: number;
  /** Our clock, ms. */
  time: number;
}

export interface ProbeTimings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Defaults (Kubernetes': 0 s, 10 s, 1 s, 1, 3) applied in one place; decoded objects carry them already. */
export function probeTimings(spec: ProbeSpec): ProbeTimings {
  return {
    initialDelayMs: (spec.initialDelaySeconds ?? 0) * 1000,
    periodMs: (spec.periodSeconds ?? 10) * 1000,
    timeoutMs: (spec.timeoutSeconds ?? 1) * 1000,
    successThreshold: Math.max(1, spec.successThreshold ?? 1),
    failureThreshold: Math.max(1, spec.failureThreshold ?? 3),
  };
}

/**
 * Until its first success, readiness is retried quickly (0.1 s doubling, capped at the period:
 * 0.1, 0.2, 0.4, 0.8, 1.6 s …), so an app that listens a few milliseconds after its start (the
 * first probe runs at once) is reported ready within about 0.1 s, not half a second or a period.
 */
export const READINESS_FIRST_RETRY_MS = 100;

export interface ProbeState {
  /** When we first saw this container running (our clock). */
  runningSince: number;
  ready: boolean;
  /** When the next probe of the current phase is due. */
  nextProbeAt: number;
  readinessFailures: number;
  /** Consecutive readiness successes (ready at `successThreshold`). */
  readinessSuccesses: number;
  livenessFailures: number;
  readinessTimedOut: boolean;
  last?: ProbeResult;
}

export interface ProbeSpecs {
  readonly readiness?: ProbeSpec | undefined;
  readonly liveness?: ProbeSpec | undefined;
}

/** What the reconciler should do now. */
export type ProbeStep =
  | { kind: 'probe'; type: ProbeType; spec: ProbeSpec; timings: ProbeTimings }
  | { kind: 'wait'; ms: number }
  /** Nothing periodic to do (ready and no liveness probe). */
  | { kind: 'idle' };

/** What a recorded result means. */
export interface ProbeOutcome {
  becameReady: boolean;
  /** Readiness passed its deadline with this result (reported once). */
  timedOut: boolean;
  /** Liveness failed (count so far). */
  livenessFailures: number;
  /** Liveness hit the threshold: restart the container. */
  restart: boolean;
}

export class ProbeTracker {
  readonly #byContainer = new Map<string, ProbeState>();

  /** The state of a running container, created on first sight. */
  observe(id: string, specs: ProbeSpecs, now: number): ProbeState {
    let s = this.#byContainer.get(id);
    if (s === undefined) {
      // No readiness probe: ready once running, and liveness starts after its initial delay (one
      // period when it has none). With one, the first readiness probe waits its initial delay.
      const ready = specs.readiness === undefined;
      const live = specs.liveness === undefined ? undefined : probeTimings(specs.liveness);
      const delay = ready
        ? live === undefined
          ? 0
          : live.initialDelayMs > 0
            ? live.initialDelayMs
            : live.periodMs
        : probeTimings(specs.readiness ?? {}).initialDelayMs;
      s = {
        runningSince: now,
        ready,
        nextProbeAt: now + delay,
        readinessFailures: 0,
        readinessSuccesses: 0,
        livenessFailures: 0,
        readinessTimedOut: false,
      };
      this.#byContainer.set(id, s);
    }
    return s;
  }

  get(id: string): ProbeState | undefined {
    return this.#byContainer.get(id);
  }

  /** The container was restarted or stopped: its next run starts from scratch. */
  forget(id: string): void {
    this.#byContainer.delete(id);
  }

  ids(): string[] {
    return [...this.#byContainer.keys()];
  }
}

/** Which probe is due, or how long until one is. */
export function nextProbe(s: ProbeState, specs: ProbeSpecs, now: number): ProbeStep {
  const type: ProbeType = s.ready ? 'liveness' : 'readiness';
  const spec = s.ready ? specs.liveness : specs.readiness;
  if (spec === undefined) return { kind: 'idle' };
  if (now < s.nextProbeAt) return { kind: 'wait', ms: s.nextProbeAt - now };
  return { kind: 'probe', type, spec, timings: probeTimings(spec) };
}

/**
 * Folds one probe result into the state and says what it means. `readinessTimeoutMs`: time from
 * start after which a never-ready container is reported as failed (it keeps being probed).
 */
export function recordProbe(
  s: ProbeState,
  specs: ProbeSpecs,
  r: ProbeResult,
  readinessTimeoutMs: number,
): ProbeOutcome {
  const out: ProbeOutcome = { becameReady: false, timedOut: false, livenessFailures: 0, restart: false };
  s.last = r;
  if (r.type === 'readiness') {
    const t = probeTimings(specs.readiness ?? {});
    if (r.ok && s.readinessSuccesses + 1 < t.successThreshold) {
      s.readinessSuccesses++;
      s.nextProbeAt = r.time + t.periodMs;
    } else if (r.ok) {
      s.ready = true;
      out.becameReady = true;
      const live = specs.liveness === undefined ? undefined : probeTimings(specs.liveness);
      s.nextProbeAt = r.time + (live === undefined ? 0 : Math.max(live.periodMs, live.initialDelayMs));
    } else {
      const retry = Math.min(t.periodMs, READINESS_FIRST_RETRY_MS * 2 ** s.readinessFailures);
      s.readinessSuccesses = 0;
      s.readinessFailures++;
      s.nextProbeAt = r.time + retry;
      if (!s.readinessTimedOut && r.time - s.runningSince >= readinessTimeoutMs) {
        s.readinessTimedOut = true;
        out.timedOut = true;
      }
    }
    return out;
  }
  const t = probeTimings(specs.liveness ?? {});
  s.nextProbeAt = r.time + t.periodMs;
  if (r.ok) {
    s.livenessFailures = 0;
    return out;
  }
  s.livenessFailures++;
  out.livenessFailures = s.livenessFailures;
  out.restart = s.livenessFailures >= t.failureThreshold;
  return out;
}
