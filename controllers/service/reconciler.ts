/**
 * The ingress reconciler. Caddy's config is one document, so there is one key (`Ingress/caddy`)
 * and every Service or Deployment change maps to it. A reconcile:
 *   plan routes → load the config into Caddy (only when it changed) → check certificates of
 *   served ssl hosts → write each Service's status, events and metrics → requeue while a
 *   certificate is pending (or slowly, to notice renewals).
 * A failed load leaves the old config running in Caddy; the Services it affects say so, and the
 * error is thrown so the controller retries with back-off.
 */
import { errorMessage, isOrunError, OrunError } from '../../apis/errors.ts';
import type { Deployment } from '../../apis/run.orcra.dev/v0alpha/deployment.ts';
import type { Service, ServiceStatus } from '../../apis/run.orcra.dev/v0alpha/service.ts';
import {
  buildCaddyConfig,
  CaddyErrorCode,
  LETS_ENCRYPT_PRODUCTION,
  probeCertificate,
  splitUpstream,
  type CertificateState,
  type IngressRoute,
  type UpstreamTable,
} from '../../runtime/caddy/index.ts';
import { findCondition, READY } from '../../runtime/conditions/index.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../../runtime/controller/index.ts';
import type { CertificateChecker, ServiceReconcilerDeps } from './deps.ts';
import { ingressMetrics, type IngressMetrics } from './metrics.ts';
import { planIngress, Reason, type ServiceObject, type ServicePlan } from './plan.ts';
import { buildStatus, type StatusFacts, type Verdict } from './status.ts';

/** The one key this controller reconciles. */
export const INGRESS_KEY = 'Ingress/caddy';

/** Pending certificates are polled fast for this long, then every 15 s. */
const FAST_POLL_WINDOW_MS = 60_000;
const SLOW_POLL_MS = 15_000;

/** What a Service's status says besides its verdict. */
type StatusFields = Omit<StatusFacts, 'generation' | 'verdict' | 'now' | 'previous'>;

interface Applied {
  json: string;
  routes: Map<string, IngressRoute>;
  /** Route id (Service name) → the Deployment it targets. */
  targets: Map<string, string>;
}

export class IngressReconciler implements Reconciler {
  readonly #d: ServiceReconcilerDeps;
  readonly #httpPort: number;
  readonly #httpsPort: number;
  readonly #check: CertificateChecker;
  readonly #metrics: IngressMetrics;
  /** What Caddy runs (as far as this process loaded it). */
  #applied: Applied | undefined;
  /** Hosts whose certificate was seen served (for the CertificateIssued event). */
  readonly #issued = new Set<string>();
  /** host → when its certificate was first seen pending. */
  readonly #pendingSince = new Map<string, number>();
  readonly #certSeries = new Set<string>();
  /** The branch the last reconcile planned for. */
  #branch: string | undefined;

  constructor(d: ServiceReconcilerDeps) {
    this.#d = d;
    this.#httpPort = d.httpPort ?? 80;
    this.#httpsPort = d.httpsPort ?? 443;
    this.#check =
      d.checkCertificate ?? ((host, signal) => probeCertificate({ host, port: this.#httpsPort, signal }));
    this.#metrics = ingressMetrics(d.registry);
  }

  /**
   * Forget what Caddy runs, so the next reconcile loads the config again. Call it when Caddy
   * (re)started: it may run an older config, or none.
   */
  forgetApplied(): void {
    this.#applied = undefined;
  }

  /** The branch the node tracks now; a change is logged (the domains are re-planned). */
  #trackedBranch(ctx: ReconcileContext): string {
    const branch = this.#d.branch();
    if (this.#branch === undefined)
      ctx.log.info({ branch, httpPort: this.#httpPort, httpsPort: this.#httpsPort }, 'ingress routing');
    else if (branch !== this.#branch)
      ctx.log.info({ from: this.#branch, to: branch }, 'node branch changed; re-planning Service domains');
    this.#branch = branch;
    return branch;
  }

  /**
   * The upstreams Caddy proxies to (as far as this process loaded them) for Services of
   * `deployment`. A start-first rollout waits for these to name its new container.
   */
  upstreamsOf(deployment: string): string[] {
    const a = this.#applied;
    if (a === undefined) return [];
    const out: string[] = [];
    for (const [id, r] of a.routes) {
      if (a.targets.get(id) !== deployment || r.upstream === undefined) continue;
      const table = this.#d.upstreams;
      if (table === undefined) {
        out.push(r.upstream);
        continue;
      }
      // By name: Caddy may still use the previous IP until its cached answer is replaced.
      const { port } = splitUpstream(r.upstream);
      for (const ip of table.inUse(id)) out.push(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
    }
    return out;
  }

  async reconcile(ctx: ReconcileContext): Promise<ReconcileResult> {
    const services = this.#d.store.list<Service>('Service');
    const deployments = this.#d.store.list<Deployment>('Deployment');
    const plan = planIngress(services, deployments, this.#trackedBranch(ctx));
    const before = this.#applied?.routes ?? new Map<string, IngressRoute>();
    const targets = new Map<string, string>();
    for (const [svc, p] of plan.services) if (p.kind === 'routed') targets.set(svc, p.deployment);
    const failure = await this.#apply(plan.routes, targets, ctx);
    const certs = await this.#checkCertificates(ctx.signal);
    let pollMs: number | undefined;
    for (const svc of services) {
      const p = plan.services.get(svc.metadata.name);
      if (p === undefined) continue;
      const next = this.#report(svc, p, before, failure, certs);
      if (next !== undefined) pollMs = Math.min(pollMs ?? next, next);
    }
    this.#dropSeries(new Set(services.map((s) => s.metadata.name)));
    if (failure !== undefined)
      throw failure instanceof Error
        ? failure
        : new OrunError('ingress.apply_failed', `ingress: apply: ${errorMessage(failure)}`);
    return { requeueAfter: pollMs ?? this.#d.resyncMs ?? 600_000 };
  }

  /**
   * Points the upstream names at their containers, then loads the config when it differs from
   * what Caddy runs; returns the failure, if any. With upstreams by name the config holds no
   * container IP, so a container replaced behind a route changes only the name's answer: no load,
   * no listener rebound, no connection reset (runtime/caddy/upstreams.ts).
   */
  async #apply(
    routes: IngressRoute[],
    targets: Map<string, string>,
    ctx: ReconcileContext,
  ): Promise<unknown> {
    try {
      const table = this.#d.upstreams;
      const config = buildCaddyConfig({
        routes,
        httpPort: this.#httpPort,
        httpsPort: this.#httpsPort,
        ...(this.#d.acme === undefined ? {} : { acme: this.#d.acme }),
        ...(table === undefined ? {} : { upstreamResolver: { address: await table.address() } }),
      });
      const json = JSON.stringify(config);
      if (table !== undefined) this.#publish(table, routes, ctx);
      if (this.#applied?.json === json) {
        this.#applied.routes = new Map(routes.map((r) => [r.id, r]));
        this.#applied.targets = targets;
        return undefined;
      }
      await this.#d.caddy.load(config, ctx.signal);
      this.#applied = { json, routes: new Map(routes.map((r) => [r.id, r])), targets };
      this.#metrics.applies.inc({ result: 'success' });
      this.#metrics.routes.set(routes.length);
      ctx.log.info({ routes: routes.length }, 'caddy config applied');
      return undefined;
    } catch (err) {
      this.#metrics.applies.inc({ result: 'error' });
      ctx.log.error({ err: errorMessage(err) }, 'caddy config not applied; the previous one keeps serving');
      return err;
    }
  }

  /** The upstream names answer with the routes' IPs (before a load: a new route resolves at once). */
  #publish(table: UpstreamTable, routes: readonly IngressRoute[], ctx: ReconcileContext): void {
    for (const r of routes) {
      const ip = r.upstream === undefined ? undefined : splitUpstream(r.upstream).ip;
      const was = this.#applied?.routes.get(r.id)?.upstream;
      if (was !== undefined && r.upstream !== undefined && was !== r.upstream)
        ctx.log.info(
          { route: r.id, from: was, to: r.upstream },
          'upstream switched by name (no caddy reload)',
        );
      table.set(r.id, ip);
    }
    table.retain(new Set(routes.map((r) => r.id)));
  }

  /** Certificate state of every ssl host Caddy serves now. */
  async #checkCertificates(signal: AbortSignal): Promise<Map<string, CertificateState>> {
    const hosts = [...(this.#applied?.routes.values() ?? [])].filter((r) => r.tls).map((r) => r.host);
    const states = await Promise.all(hosts.map((h) => this.#check(h, signal)));
    const out = new Map(hosts.map((h, i) => [h, states[i]!]));
    const now = this.#d.clock.now();
    for (const [host, s] of out) {
      if (s.issued) this.#pendingSince.delete(host);
      else if (!this.#pendingSince.has(host)) this.#pendingSince.set(host, now);
    }
    for (const host of this.#pendingSince.keys()) if (!out.has(host)) this.#pendingSince.delete(host);
    return out;
  }

  /** Status, events and metrics of one Service; returns when to poll again (certificate pending). */
  #report(
    svc: ServiceObject,
    plan: ServicePlan,
    before: ReadonlyMap<string, IngressRoute>,
    failure: unknown,
    certs: ReadonlyMap<string, CertificateState>,
  ): number | undefined {
    const name = svc.metadata.name;
    if (plan.kind !== 'routed') {
      this.#certificateSeries(name, undefined);
      const verdict: Verdict = {
        kind: plan.kind === 'stalled' ? 'stalled' : 'idle',
        reason: plan.reason,
        message: plan.message,
      };
      this.#write(svc, verdict, plan.kind === 'stalled' && plan.domain ? { domain: plan.domain } : {});
      return undefined;
    }
    const route = plan.route;
    const live = this.#applied?.routes.get(name);
    const url = this.#url(route);
    const cert = route.tls && sameRoute(live, route) ? certs.get(route.host) : undefined;
    const facts = routeFacts(route, url, cert, svc.status);
    this.#certificateSeries(name, route.tls ? cert?.issued === true : undefined);
    if (!sameRoute(live, route)) {
      this.#write(svc, notLoadedVerdict(failure), facts);
      return undefined;
    }
    this.#recordRouteEvents(name, route, url, before, cert);
    this.#write(svc, this.#routedVerdict(plan, url, cert), facts);
    return route.tls && cert?.issued !== true ? this.#pollDelay(route.host) : undefined;
  }

  /** Routed (the route is new or changed) and CertificateIssued (first seen served). */
  #recordRouteEvents(
    name: string,
    route: IngressRoute,
    url: string,
    before: ReadonlyMap<string, IngressRoute>,
    cert: CertificateState | undefined,
  ): void {
    if (route.upstream !== undefined && !sameRoute(before.get(name), route))
      this.#d.recordEvent(name, 'Normal', 'Routed', `routing ${url} to ${route.upstream}`);
    if (cert?.issued === true && !this.#issued.has(route.host)) {
      this.#issued.add(route.host);
      this.#d.recordEvent(
        name,
        'Normal',
        'CertificateIssued',
        `certificate for ${route.host} ${cert.message}`,
      );
    } else if (cert !== undefined && !cert.issued) this.#issued.delete(route.host);
  }

  /** The verdict on a route Caddy serves: its Deployment not ready, its certificate pending, or ready. */
  #routedVerdict(
    plan: Extract<ServicePlan, { kind: 'routed' }>,
    url: string,
    cert: CertificateState | undefined,
  ): Verdict {
    const route = plan.route;
    if (route.upstream === undefined) {
      return {
        kind: 'progressing',
        reason: Reason.DeploymentNotReady,
        message: `Deployment ${plan.deployment} is not ready; ${route.host} answers 503 until it is`,
      };
    }
    if (route.tls && cert?.issued !== true) {
      const ca = this.#d.acme?.ca ?? LETS_ENCRYPT_PRODUCTION;
      return {
        kind: 'progressing',
        reason: Reason.CertificatePending,
        message: `waiting for a certificate for ${route.host} from ${ca}: ${cert?.message ?? 'not checked yet'}`,
      };
    }
    return { kind: 'ready', reason: Reason.Routed, message: `${url} → ${route.upstream}` };
  }

  #write(svc: ServiceObject, verdict: Verdict, facts: StatusFields): void {
    const name = svc.metadata.name;
    const previous = svc.status;
    const status = buildStatus({
      generation: svc.metadata.generation,
      verdict,
      now: this.#d.clock.now(),
      ...(previous === undefined ? {} : { previous }),
      ...facts,
    });
    const before = findCondition(previous?.conditions, READY);
    const changed = before?.reason !== verdict.reason || before.message !== verdict.message;
    if (changed && (verdict.kind === 'stalled' || verdict.reason === Reason.IngressUnavailable))
      this.#d.recordEvent(name, 'Warning', 'Failed', verdict.message);
    try {
      this.#d.store.updateStatus<ServiceStatus>('Service', name, () => status);
    } catch (err) {
      // Deleted between list and write: its DELETED event brings another reconcile.
      if (!isOrunError(err, 'store.not_found')) throw err;
    }
  }

  #url(r: IngressRoute): string {
    const port = r.tls ? this.#httpsPort : this.#httpPort;
    const suffix = port === (r.tls ? 443 : 80) ? '' : `:${port}`;
    return `${r.tls ? 'https' : 'http'}://${r.host}${suffix}`;
  }

  #pollDelay(host: string): number {
    const since = this.#pendingSince.get(host) ?? this.#d.clock.now();
    const fast = this.#d.certificatePollMs ?? 2000;
    return this.#d.clock.now() - since < FAST_POLL_WINDOW_MS ? fast : Math.max(fast, SLOW_POLL_MS);
  }

  /** Sets (or, with `undefined`, removes) a Service's certificate-ready series. */
  #certificateSeries(service: string, ready: boolean | undefined): void {
    if (ready === undefined) {
      if (this.#certSeries.delete(service)) this.#metrics.certificateReady.remove({ service });
      return;
    }
    this.#certSeries.add(service);
    this.#metrics.certificateReady.set({ service }, ready ? 1 : 0);
  }

  #dropSeries(present: ReadonlySet<string>): void {
    for (const s of [...this.#certSeries]) if (!present.has(s)) this.#certificateSeries(s, undefined);
  }
}

/** A route Caddy does not serve (yet): Caddy unreachable, or the new config rejected. */
function notLoadedVerdict(failure: unknown): Verdict {
  return isOrunError(failure, CaddyErrorCode.Unavailable)
    ? { kind: 'progressing', reason: Reason.IngressUnavailable, message: errorMessage(failure) }
    : { kind: 'stalled', reason: Reason.ConfigRejected, message: errorMessage(failure) };
}

/**
 * The status fields of a routed Service. The certificate is the one just checked, else the one
 * the status already shows (a route Caddy does not serve yet is not checked).
 */
function routeFacts(
  route: IngressRoute,
  url: string,
  cert: CertificateState | undefined,
  previous: ServiceObject['status'],
): StatusFields {
  return {
    domain: route.host,
    url,
    ...(route.upstream === undefined ? {} : { upstream: route.upstream }),
    ...(cert?.issuer === undefined && cert?.notAfter === undefined
      ? previous?.certificate === undefined || !route.tls
        ? {}
        : { certificate: { ...previous.certificate } }
      : {
          certificate: {
            ...(cert.issuer === undefined ? {} : { issuer: cert.issuer }),
            ...(cert.notAfter === undefined ? {} : { notAfter: cert.notAfter }),
          },
        }),
  };
}

function sameRoute(a: IngressRoute | undefined, b: IngressRoute): boolean {
  return a !== undefined && a.host === b.host && a.upstream === b.upstream && a.tls === b.tls;
}
