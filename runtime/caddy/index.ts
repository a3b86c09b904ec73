/**
 * The Caddy edge: a supervised `caddy` child process driven through its admin API, a pure config
 * builder, and a TLS-handshake certificate check. See runtime/caddy/README.md.
 *
 * ```ts
 * const caddy = newCaddySupervisor({ dataDir: node.spec.dataDir, logger, registry });
 * manager.addServer(caddy);                     // { name, start(signal), synced }
 * manager.addReadyCheck('caddy', caddy.check);
 * await caddy.load(buildCaddyConfig({ routes, acme: { email } }));
 * ```
 */
export { CaddyAdminClient, CaddyErrorCode, type CaddyAdmin, type CaddyAdminClientOptions } from './admin.ts';
export {
  adminBlock,
  buildCaddyConfig,
  GRACE_PERIOD,
  HTTP_SERVER,
  HTTPS_SERVER,
  LETS_ENCRYPT_PRODUCTION,
  routeID,
  type AcmeSettings,
  type CaddyAdminBlock,
  type CaddyConfig,
  type CaddyConfigInput,
  type IngressRoute,
  type UpstreamResolverSettings,
  UPSTREAM_TRANSPORT,
} from './config.ts';
export {
  splitUpstream,
  UPSTREAM_REFRESH_MS,
  UpstreamDNS,
  upstreamHostName,
  UpstreamNames,
  type UpstreamDNSOptions,
  type UpstreamTable,
} from './upstreams.ts';
export {
  gateCaddy,
  onPath,
  portState,
  TCP_MIGRATE_REQ_PATH,
  tcpMigrateReq,
  type CaddyGateOptions,
  type GatedCaddy,
} from './gate.ts';
export { probeCertificate, type CertificateProbeOptions, type CertificateState } from './certificate.ts';
export { FakeCaddyAdmin, FakeUpstreamDNS } from './fake.ts';
export {
  caddyPaths,
  CaddySupervisor,
  DEFAULT_RESTART_BACKOFF,
  newCaddySupervisor,
  restartDelay,
  type CaddyPaths,
  type CaddySupervisorOptions,
  type RestartBackoff,
} from './supervisor.ts';
