/**
 * From the store's Services and Deployments to the route table Caddy serves, plus what each
 * Service's status should say about it. Pure and total: every Service gets a plan.
 *
 * - Domain: `serviceDomain(spec, branch)` (main → `domain.default`, else `domain.environment`
 *   with `$ENV`). No environment template off main → not exposed (not an error).
 * - Two Services on one domain: the older one (creationTimestamp, then name) keeps it, so adding
 *   a Service never takes a domain from a running one; the other is Stalled.
 * - Upstream: the serving container's address on the node network (`status.ip`) and the target
 *   containerPort (Caddy runs on the host, which reaches the network's containers by IP; no host
 *   port needed). A Deployment whose status has no IP (an engine without the node network) falls
 *   back to `127.0.0.1:<host port>` when the port is published. During a rollout the status names
 *   the container that serves, so the upstream moves exactly once, when the new one is ready.
 *   A Deployment that is not ready yet still gets its route (answering 503), so the certificate is
 *   obtained meanwhile.
 */
import { serviceDomain, serviceTargetPort } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import type { Deployment } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { Service } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import type { IngressRoute } from '../../runtime/caddy/index.ts';
import type { DeepReadonly } from '../../runtime/store/index.ts';

export type ServiceObject = DeepReadonly<Service>;
export type DeploymentObject = DeepReadonly<Deployment>;

/** Stable reasons (CamelCase) a Service's conditions carry. Clients may branch on these. */
export const Reason = {
  Routed: 'Routed',
  DeploymentNotReady: 'DeploymentNotReady',
  CertificatePending: 'CertificatePending',
  DeploymentNotFound: 'DeploymentNotFound',
  NoTargetPort: 'NoTargetPort',
  DomainConflict: 'DomainConflict',
  NoDomainForBranch: 'NoDomainForBranch',
  IngressUnavailable: 'IngressUnavailable',
  ConfigRejected: 'ConfigRejected',
} as const;

export type ServicePlan =
  /** A route exists for it; `route.upstream` is undefined while the Deployment is not ready. */
  | { kind: 'routed'; route: IngressRoute; deployment: string }
  /** Cannot be routed until its input changes. */
  | { kind: 'stalled'; reason: string; message: string; domain?: string }
  /** Deliberately not served on this branch. */
  | { kind: 'unexposed'; reason: string; message: string };

export interface IngressPlan {
  /** Sorted by Service name. */
  routes: IngressRoute[];
  /** By Service name. */
  services: Map<string, ServicePlan>;
}

export function planIngress(
  services: readonly ServiceObject[],
  deployments: readonly DeploymentObject[],
  branch: string,
): IngressPlan {
  const byName = new Map(deployments.map((d) => [d.metadata.name, d]));
  const owners = domainOwners(services, branch);
  const plans = new Map<string, ServicePlan>();
  const routes: IngressRoute[] = [];
  for (const svc of [...services].sort((a, b) => cmp(a.metadata.name, b.metadata.name))) {
    const plan = planOne(svc, byName, owners, branch);
    plans.set(svc.metadata.name, plan);
    if (plan.kind === 'routed') routes.push(plan.route);
  }
  return { routes, services: plans };
}

function planOne(
  svc: ServiceObject,
  deployments: ReadonlyMap<string, DeploymentObject>,
  owners: ReadonlyMap<string, string>,
  branch: string,
): ServicePlan {
  const name = svc.metadata.name;
  const domain = serviceDomain(svc.spec, branch);
  if (domain === undefined)
    return {
      kind: 'unexposed',
      reason: Reason.NoDomainForBranch,
      message: `not exposed on branch ${branch}: ingress.domain.environment is not set`,
    };
  const owner = owners.get(domain);
  if (owner !== name)
    return {
      kind: 'stalled',
      reason: Reason.DomainConflict,
      message: `domain ${domain} is already served by Service/${owner}`,
      domain,
    };
  const depName = svc.spec.deployment;
  const dep = deployments.get(depName);
  if (dep === undefined)
    return {
      kind: 'stalled',
      reason: Reason.DeploymentNotFound,
      message: `Deployment ${depName} not found`,
      domain,
    };
  // The store hands out a deep-readonly view; serviceTargetPort only reads it.
  const target = serviceTargetPort(svc.spec, dep as unknown as Pick<Deployment, 'spec'>);
  if (target === undefined || target.protocol === 'udp') {
    const want = svc.spec.ingress.port;
    return {
      kind: 'stalled',
      reason: Reason.NoTargetPort,
      message:
        want !== undefined
          ? `Deployment ${depName} publishes no tcp containerPort ${want}`
          : `Deployment ${depName} publishes no tcp port to route to`,
      domain,
    };
  }
  const route: IngressRoute = { id: name, host: domain, tls: svc.spec.ingress.ssl };
  const upstream = upstreamOf(dep, target);
  if (upstream !== undefined) route.upstream = upstream;
  return { kind: 'routed', route, deployment: depName };
}

/** Where the ready container of `dep` answers on `target`'s containerPort; undefined while none serves. */
function upstreamOf(
  dep: DeploymentObject,
  target: { containerPort: number; port?: number | undefined },
): string | undefined {
  const st = dep.status;
  if (st?.ready !== true) return undefined;
  if (st.ip !== undefined && st.ip !== '') return `${st.ip}:${target.containerPort}`;
  const published = st.ports?.find((p) => p.containerPort === target.containerPort && p.protocol === 'tcp');
  const port = published?.port ?? target.port;
  return port === undefined ? undefined : `127.0.0.1:${port}`;
}

/** domain → the Service that keeps it: the oldest (creationTimestamp, then name). */
function domainOwners(services: readonly ServiceObject[], branch: string): Map<string, string> {
  const owners = new Map<string, ServiceObject>();
  for (const svc of services) {
    const domain = serviceDomain(svc.spec, branch);
    if (domain === undefined) continue;
    const current = owners.get(domain);
    if (current === undefined || older(svc, current)) owners.set(domain, svc);
  }
  return new Map([...owners].map(([d, s]) => [d, s.metadata.name]));
}

function older(a: ServiceObject, b: ServiceObject): boolean {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta !== tb ? ta < tb : a.metadata.name < b.metadata.name;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
