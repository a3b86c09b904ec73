/**
 * What the Service controller needs from the rest of orun, declared by the user (STYLE.md):
 * small interfaces that runtime/caddy and the Store satisfy, and that tests fake.
 */
import type { Registry } from 'prom-client';
import type { AcmeSettings, CaddyAdmin, CertificateState, UpstreamTable } from '../../runtime/caddy/index.ts';
import type { RecordEvent } from '../../runtime/events/index.ts';
import type { Store } from '../../runtime/store/index.ts';

/** Records an event on `Service/<name>`. Messages carry no secrets (domains and ports only). */
export type { EventType, RecordEvent } from '../../runtime/events/index.ts';

/** Does Caddy serve a valid certificate for `host` yet? Resolves, never rejects. */
export type CertificateChecker = (host: string, signal: AbortSignal) => Promise<CertificateState>;

/** The Caddy calls this controller makes (runtime/caddy CaddySupervisor, FakeCaddyAdmin). */
export type IngressCaddy = Pick<CaddyAdmin, 'load'>;

/** Node-level ingress settings; each default is applied in `resolveDeps`. */
export interface IngressSettings {
  /**
   * The branch this node tracks (Node `gitBranch`): `main` serves `domain.default`. Read at every
   * reconcile, so a Node manifest that moves the node re-plans the domains. Required.
   */
  branch: () => string;
  /** Caddy's plain HTTP port (redirects, ACME HTTP-01, non-ssl Services). Default 80. */
  httpPort?: number;
  /** Caddy's HTTPS port. Default 443. */
  httpsPort?: number;
  /** ACME CA, account email, extra trusted roots. Default: Let's Encrypt production, no email. */
  acme?: AcmeSettings;
  /**
   * Upstreams by name (runtime/caddy UpstreamDNS): a container replaced behind a route changes only
   * the name's answer, never Caddy's config. Default: none (each switch loads the config).
   */
  upstreams?: UpstreamTable;
}

export interface ServiceReconcilerDeps extends IngressSettings {
  store: Pick<Store, 'list' | 'updateStatus'>;
  caddy: IngressCaddy;
  recordEvent: RecordEvent;
  clock: { now(): number };
  /** `orun_ingress_*` metrics are registered here. Default: none recorded. */
  registry?: Registry;
  /** Default: a TLS handshake with SNI to 127.0.0.1:<httpsPort> (runtime/caddy probeCertificate). */
  checkCertificate?: CertificateChecker;
  /** Re-check of pending certificates during their first minute. Default 2000 ms; 15 000 ms after. */
  certificatePollMs?: number;
  /** Re-check when nothing is pending (certificate renewals, expiry). Default 600 000 ms. */
  resyncMs?: number;
}
