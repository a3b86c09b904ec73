/**
 * A Service's status from its verdict, as kstatus conditions:
 * - ready       → Ready=True (routed; for ssl, the certificate is served)
 * - progressing → Ready=False, Reconciling=True (Deployment not ready, certificate pending, Caddy down)
 * - stalled     → Ready=False, Stalled=True (missing Deployment, domain conflict, no port, config rejected)
 * - idle        → Ready=False only (not exposed on this branch, by design)
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import {
  markNotReady,
  markReady,
  markReconciling,
  markStalled,
  READY,
  RECONCILING,
  removeCondition,
  setCondition,
  STALLED,
} from '../../runtime/conditions/index.ts';
import type { DeepReadonly } from '../../runtime/store/index.ts';

export interface Verdict {
  kind: 'ready' | 'progressing' | 'stalled' | 'idle';
  reason: string;
  message: string;
}

export interface StatusFacts {
  generation: number | undefined;
  verdict: Verdict;
  domain?: string;
  url?: string;
  upstream?: string;
  certificate?: { issuer?: string; notAfter?: string };
  now: number;
  previous?: DeepReadonly<ServiceStatus>;
}

export function buildStatus(f: StatusFacts): ServiceStatus {
  const status: ServiceStatus = {
    ...(f.generation === undefined ? {} : { observedGeneration: f.generation }),
    conditions: conditionsFor(f.previous?.conditions, f.verdict, f.generation, f.now),
  };
  if (f.url !== undefined) status.url = f.url;
  if (f.domain !== undefined) status.domain = f.domain;
  if (f.upstream !== undefined) status.upstream = f.upstream;
  if (f.certificate !== undefined) status.certificate = { ...f.certificate };
  return status;
}

function conditionsFor(
  previous: readonly Readonly<Condition>[] | undefined,
  v: Verdict,
  generation: number | undefined,
  now: number,
): Condition[] {
  const m = {
    reason: v.reason,
    message: v.message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  switch (v.kind) {
    case 'ready':
      return markReady(previous, m, now);
    case 'progressing':
      return markNotReady(markReconciling(previous, m, now), m, now);
    case 'stalled':
      return markStalled(previous, m, now);
    case 'idle':
      return setCondition(
        removeCondition(removeCondition(previous, RECONCILING), STALLED),
        { type: READY, status: 'False', ...m },
        now,
      );
  }
}
