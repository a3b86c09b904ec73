/**
 * Test support (not used by production code): a reconciler wired to the docker FakeEngine, a
 * FakeClock, an in-memory store that freezes what it hands out, and recorders for events, logs
 * and probes, so each test reads as "apply, reconcile, step the clock, look".
 */
import { Registry } from 'prom-client';
import { deepFreeze } from '../../runtime/store/freeze.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import { FakeEngine } from '../../runtime/docker/fake.ts';
import { pino } from 'pino';
import type { ReconcileResult } from '../../runtime/controller/index.ts';
import type { EventType } from '../../runtime/events/index.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { DeploymentDeps, HttpProber } from './deps.ts';
import { DeploymentReconciler } from './reconciler.ts';
import type { DeploymentSpecView, DeploymentStatusView, DeploymentView } from './spec.ts';

export const IMAGE = 'orun-test/busybox:1';

export interface RecordedEvent {
  key: string;
  type: EventType;
  reason: string;
  message: string;
}

export class Harness {
  readonly clock = new FakeClock();
  readonly engine: FakeEngine;
  readonly registry = new Registry();
  readonly events: RecordedEvent[] = [];
  /** Every log call, serialized as pino would (JSON of fields + msg). */
  readonly logs: string[] = [];
  readonly statusWrites: { key: string; status: DeploymentStatusView }[] = [];
  /** Probe answer by `host:port/path`; default ok. */
  readonly probeAnswers = new Map<string, boolean>();
  readonly probed: string[] = [];
  synced = true;
  readonly #objects = new Map<string, DeploymentView>();
  reconciler: DeploymentReconciler;
  readonly #overrides: Partial<DeploymentDeps>;

  constructor(overrides: Partial<DeploymentDeps> = {}, engine?: FakeEngine) {
    this.engine = engine ?? new FakeEngine({ now: () => this.clock.now(), images: [IMAGE] });
    this.#overrides = overrides;
    this.reconciler = this.newReconciler();
  }

  /** A fresh reconciler (empty memory) on the same engine and store: an orun restart. */
  newReconciler(): DeploymentReconciler {
    const probe: HttpProber = ({ host, port, path }) => {
      const target = `${host}:${port}${path}`;
      this.probed.push(target);
      const ok = this.probeAnswers.get(target) ?? true;
      return Promise.resolve(
        ok
          ? { ok, statusCode: 200, message: 'HTTP 200' }
          : { ok, message: `GET http://${target}: connect ECONNREFUSED` },
      );
    };
    this.reconciler = new DeploymentReconciler({
      engine: this.engine,
      store: {
        get: (key) => this.#objects.get(key),
        updateStatus: (key, status) => {
          const obj = this.#objects.get(key);
          if (obj === undefined) return;
          this.statusWrites.push({ key, status });
          this.#objects.set(key, deepFreeze({ ...obj, status: structuredClone(status) }));
        },
      },
      recordEvent: (name, type, reason, message) =>
        this.events.push({ key: `Deployment/${name}`, type, reason, message }),
      clock: this.clock,
      probe,
      registry: this.registry,
      hasSynced: () => this.synced,
      ...this.#overrides,
    });
    return this.reconciler;
  }

  /** Adds or replaces a Deployment (generation bumps when the spec changes, as the store does). */
  apply(name: string, spec: DeploymentSpecView, commit = 'c0ffee'): void {
    const key = `Deployment/${name}`;
    const old = this.#objects.get(key);
    const changed = old === undefined || JSON.stringify(old.spec) !== JSON.stringify(spec);
    const generation = (old?.metadata.generation ?? 0) + (changed ? 1 : 0);
    const obj: DeploymentView = {
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'Deployment',
      metadata: {
        name,
        generation,
        annotations: { 'run.orcra.dev/source': `deployments/${name}.yaml@${commit}` },
      },
      spec,
      ...(old?.status === undefined ? {} : { status: old.status }),
    };
    this.#objects.set(key, obj);
  }

  delete(name: string): void {
    this.#objects.delete(`Deployment/${name}`);
  }

  get(name: string): DeploymentView | undefined {
    return this.#objects.get(`Deployment/${name}`);
  }

  status(name: string): DeploymentStatusView {
    return (this.get(name)?.status ?? {}) as DeploymentStatusView;
  }

  /** The name of the container the status names (the serving one). */
  cn(name: string): string {
    return this.status(name).containerName ?? `<no container for ${name}>`;
  }

  condition(name: string, type: string): { status: string; reason: string; message: string } | undefined {
    return this.status(name).conditions?.find((c) => c.type === type);
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const signal = new AbortController().signal;
    return this.reconciler.reconcile({
      key: `Deployment/${name}`,
      signal,
      log: this.logger(name),
      reconcileID: 'r1',
    });
  }

  /** Reconciles `name`, steps the clock by the requeueAfter it asked for, and repeats `n` times. */
  async follow(name: string, n: number): Promise<number[]> {
    const delays: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.reconcile(name);
      const d = r?.requeueAfter;
      if (d === undefined) break;
      delays.push(d);
      this.clock.step(d);
    }
    return delays;
  }

  /** Calls of these engine methods since `from` (an index into `engine.calls`). */
  callsOf(methods: readonly string[], from = 0): string[] {
    return this.engine.calls
      .slice(from)
      .filter((c) => methods.includes(c.method))
      .map((c) => `${c.method} ${JSON.stringify(c.args[0])}`);
  }

  reasons(type?: EventType): string[] {
    return this.events.filter((e) => type === undefined || e.type === type).map((e) => e.reason);
  }

  async metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const m = await this.registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
  }

  /** A debug-level logger whose lines (JSON, no redaction) land in `logs`. */
  logger(name: string): Logger {
    return pino({ level: 'debug', base: null }, { write: (line: string) => void this.logs.push(line) }).child(
      {
        deployment: name,
      },
    );
  }
}

/** A plain web Deployment spec (the test image, one port). */
export function webSpec(over: Partial<DeploymentSpecView> = {}): DeploymentSpecView {
  return { image: IMAGE, ports: [{ containerPort: 80, port: 8080 }], ...over };
}
