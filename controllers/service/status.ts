/**
 * A Service's status from its verdict, as kstatus conditions:
 * - ready       → Ready=True (routed; for ssl, the certificate is served)
 * - progressing → Ready=False, Reconciling=True (Deployment not ready, certificate pending, Caddy down)
 * - stalled     → Ready=False, Stalled=True (missing Deployment, domain conflict, no port, config rejected)
 * - idle        → Ready=False only (not exposed on this branch, by design)
 * Pure; `lastTransitionTime` moves only when a condition's status flips.
 */
import type { ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import { verdictConditions, type Verdict } from '../../runtime/conditions/index.ts';
import type { DeepReadonly } from '../../runtime/store/index.ts';

export type { Verdict };

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
    conditions: verdictConditions(f.previous?.conditions, f.verdict, f.generation, f.now),
  };
  if (f.url !== undefined) status.url = f.url;
  if (f.domain !== undefined) status.domain = f.domain;
  if (f.upstream !== undefined) status.upstream = f.upstream;
  if (f.certificate !== undefined) status.certificate = { ...f.certificate };
  return status;
}
