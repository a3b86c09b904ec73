/**
 * `orun_git_*` metrics. Registered on the registry the caller passes (never prom-client's global
 * one); a second GitSource on the same registry (e.g. after a branch change) reuses them.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metric, Registry } from 'prom-client';

/** `read` lists a revision's tree or reads its blobs; `checkout` writes a work tree (on demand). */
export type GitOperation = 'ls-remote' | 'fetch' | 'read' | 'checkout' | 'verify';

export class GitMetrics {
  /** `orun_git_last_success_timestamp_seconds`: end of the last successful sync (unix seconds). */
  readonly lastSuccess: Gauge;
  /** `orun_git_revision_info{branch,revision} 1` for the checked-out revision only. */
  readonly revisionInfo: Gauge<'branch' | 'revision'>;
  /** `orun_git_operation_duration_seconds{operation}` for ls-remote, fetch, read, checkout, verify. */
  readonly duration: Histogram<'operation'>;
  /** `orun_git_errors_total{operation}`: failed git operations. */
  readonly errors: Counter<'operation'>;
  /** `orun_git_polls_total`: sync attempts (timer, syncNow and retries). */
  readonly polls: Counter;
  /** `orun_git_consecutive_failures`: failed attempts since the last success. */
  readonly consecutiveFailures: Gauge;

  constructor(registry: Registry) {
    const reg = [registry];
    this.lastSuccess = reuse(
      registry,
      'orun_git_last_success_timestamp_seconds',
      (name) => new Gauge({ name, help: 'Unix time of the last successful git sync.', registers: reg }),
    );
    this.revisionInfo = reuse(
      registry,
      'orun_git_revision_info',
      (name) =>
        new Gauge({
          name,
          help: 'The checked-out revision (value is always 1).',
          labelNames: ['branch', 'revision'],
          registers: reg,
        }),
    );
    this.duration = reuse(
      registry,
      'orun_git_operation_duration_seconds',
      (name) =>
        new Histogram({
          name,
          help: 'Duration of git operations.',
          labelNames: ['operation'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
          registers: reg,
        }),
    );
    this.errors = reuse(
      registry,
      'orun_git_errors_total',
      (name) =>
        new Counter({ name, help: 'Failed git operations.', labelNames: ['operation'], registers: reg }),
    );
    this.polls = reuse(
      registry,
      'orun_git_polls_total',
      (name) => new Counter({ name, help: 'Git sync attempts.', registers: reg }),
    );
    this.consecutiveFailures = reuse(
      registry,
      'orun_git_consecutive_failures',
      (name) => new Gauge({ name, help: 'Failed git sync attempts since the last success.', registers: reg }),
    );
  }

  /** Replaces the revision info series: only the current revision is exported. */
  setRevision(branch: string, revision: string): void {
    this.revisionInfo.reset();
    this.revisionInfo.set({ branch, revision }, 1);
  }
}

function reuse<M extends Metric>(registry: Registry, name: string, create: (name: string) => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create(name);
}
