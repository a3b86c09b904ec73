/**
 * The Caddy JSON config orun runs, built from a route table. Pure: the same input gives the same
 * JSON, byte for byte (golden files in testdata/). Facts checked against Debian's caddy 2.6.2:
 *
 * - Two servers. `orun-https` listens on the HTTPS port and holds the ssl hosts: automatic HTTPS
 *   obtains their certificates and adds HTTP→HTTPS redirects for them to the server on the HTTP
 *   port. `orun-http` listens only on the HTTP port, so automatic HTTPS leaves its hosts alone
 *   (no certificate request for a non-ssl host); it also answers ACME HTTP-01 challenges.
 * - Caddy inserts its redirect routes before a route without matchers, so the final 404 route on
 *   `orun-http` does not shadow the redirects.
 * - One TLS automation policy per ssl host with the configured ACME issuer, then a catch-all
 *   policy LAST with the same issuer: a host no policy names would otherwise get Caddy's default
 *   issuers (Let's Encrypt and ZeroSSL), whatever CA was configured.
 * - Every route has an `@id` (`orun-route-<id>`), so `/id/<@id>` is a stable admin path.
 * - With `upstreamResolver` (what orun runs), a route's upstream is not written as an IP: Caddy
 *   looks up `<id>.upstream.orun.` (runtime/caddy/upstreams.ts) every second and dials the
 *   answer on the upstream's port. The config then does not change when a container is replaced,
 *   so switching an upstream needs no reload (a reload resets queued connections, see upstreams.ts).
 */
import { OrunError } from '../../apis/errors.ts';
import { isPort } from '../../apis/ports.ts';
import { splitUpstream, UPSTREAM_REFRESH_MS, upstreamHostName } from './upstreams.ts';

/** Let's Encrypt's production directory: the default ACME CA. */
export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';

/** Server names in the generated config. */
export const HTTPS_SERVER = 'orun-https';
export const HTTP_SERVER = 'orun-http';

/** Where Caddy resolves route upstreams by name instead of by a fixed IP. */
export interface UpstreamResolverSettings {
  /**
   * `udp/127.0.0.1:<port>` of the upstream DNS server (UpstreamDNS.address()). Caddy caches each
   * answer for {@link UPSTREAM_REFRESH_MS}, which UpstreamDNS counts on.
   */
  address: string;
}

/** One host Caddy serves. */
export interface IngressRoute {
  /** Stable, unique id (the Service name): a DNS-1123 label. Becomes `@id: orun-route-<id>`. */
  id: string;
  /** Lower-case domain name, e.g. `web.example.com`. */
  host: string;
  /**
   * `ip:port` to proxy to (`127.0.0.1:<hostPort>`: Caddy runs on the host). Undefined while the
   * backend is not ready: the host then answers 503, and its certificate is obtained meanwhile.
   */
  upstream?: string;
  /** true: HTTPS with an ACME certificate (HTTP redirects to it); false: plain HTTP only. */
  tls: boolean;
}

export interface AcmeSettings {
  /** ACME directory URL. Default: {@link LETS_ENCRYPT_PRODUCTION}. */
  ca?: string;
  /** Account contact (expiry notices). Default: none. */
  email?: string;
  /** PEM files trusted for the CA's own HTTPS endpoint (a private CA, pebble in tests). Default: system roots. */
  trustedRootsPemFiles?: readonly string[];
}

export interface CaddyConfigInput {
  routes: readonly IngressRoute[];
  /** Port of the plain HTTP server, redirects and HTTP-01 challenges. Default 80. */
  httpPort?: number;
  /** Port of the HTTPS server. Default 443. */
  httpsPort?: number;
  acme?: AcmeSettings;
  /** The admin endpoint, e.g. `unix//var/lib/orun/caddy/admin.sock`. Default: omitted (the supervisor sets it). */
  adminListen?: string;
  /** Certificate and account storage directory. Default: omitted (the supervisor sets it). */
  storageRoot?: string;
  /** Resolve upstreams by name through orun's upstream DNS. Default: none (a fixed `dial` per route). */
  upstreamResolver?: UpstreamResolverSettings;
}

/** A Caddy JSON config document (the parts orun writes are typed loosely: Caddy is the validator). */
export interface CaddyConfig {
  admin?: CaddyAdminBlock;
  storage?: { module: 'file_system'; root: string };
  apps?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CaddyAdminBlock {
  listen: string;
  /** Always `{ persist: false }`: Git is the source of truth, not Caddy's autosave. */
  config: { persist: false };
  [key: string]: unknown;
}

/**
 * The reverse proxy's transport to the container. `compression: false`: Go's transport otherwise
 * asks the upstream for gzip whenever the client did not send Accept-Encoding and unzips the answer
 * itself, so the app compresses and Caddy decompresses every such response (nginx gzips text/html
 * from 20 bytes): measured with bench/ingress.ts, Caddy's CPU per request halved (about 180 → 85 µs)
 * and nginx's fell from about 40 to 25 µs. The client's own Accept-Encoding still reaches the app
 * untouched, so a client that asks for gzip gets it as before. Keep-alive stays Caddy's default
 * (on, 32 idle connections per upstream, 2 min).
 */
export const UPSTREAM_TRANSPORT = { protocol: 'http', compression: false } as const;

/** How long in-flight requests may finish when a config replaces servers or Caddy stops. */
export const GRACE_PERIOD = '10s';

const HOST = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const UPSTREAM = /^([0-9]{1,3}(\.[0-9]{1,3}){3}|\[[0-9a-fA-F:]+\]|[a-z0-9.-]+):([0-9]{1,5})$/;

/** The admin block orun keeps in every config it loads. */
export function adminBlock(listen: string): CaddyAdminBlock {
  return { listen, config: { persist: false } };
}

/**
 * The whole Caddy config for `input`. Validates first and throws `caddy.invalid_config` (naming
 * the route and field) without building anything, so a bad table never reaches Caddy.
 *
 * @example buildCaddyConfig({ routes: [{ id: 'web', host: 'web.example.com', upstream: '127.0.0.1:8080', tls: true }] })
 */
export function buildCaddyConfig(input: CaddyConfigInput): CaddyConfig {
  const httpPort = input.httpPort ?? 80;
  const httpsPort = input.httpsPort ?? 443;
  validate(input, httpPort, httpsPort);
  const routes = [...input.routes].sort((a, b) => a.host.localeCompare(b.host));
  const secure = routes.filter((r) => r.tls);
  const plain = routes.filter((r) => !r.tls);

  const servers: Record<string, unknown> = {};
  const route = (r: IngressRoute): Record<string, unknown> => routeOf(r, input.upstreamResolver);
  if (secure.length > 0) servers[HTTPS_SERVER] = { listen: [`:${httpsPort}`], routes: secure.map(route) };
  // Automatic HTTPS never applies to a server on the HTTP port only; saying so explicitly turns
  // Caddy's WARN "server is listening only on the HTTP port" into "automatic HTTPS is completely
  // disabled" (also a WARN in 2.6.2, at every load; the supervisor logs it at debug). The
  // redirects for the ssl hosts and the HTTP-01 challenges are still served here.
  servers[HTTP_SERVER] = {
    listen: [`:${httpPort}`],
    routes: [...plain.map(route), notFoundRoute()],
    automatic_https: { disable: true },
  };

  const apps: Record<string, unknown> = {
    http: { http_port: httpPort, https_port: httpsPort, grace_period: GRACE_PERIOD, servers },
  };
  if (secure.length > 0) {
    const issuer = acmeIssuer(input.acme ?? {});
    apps.tls = {
      automation: {
        policies: [...secure.map((r) => ({ subjects: [r.host], issuers: [issuer] })), { issuers: [issuer] }],
      },
    };
  }

  const config: CaddyConfig = {};
  if (input.adminListen !== undefined) config.admin = adminBlock(input.adminListen);
  if (input.storageRoot !== undefined) config.storage = { module: 'file_system', root: input.storageRoot };
  config.apps = apps;
  return config;
}

/** The `@id` of a route: `/id/orun-route-<id>` addresses it in the admin API. */
export function routeID(id: string): string {
  return `orun-route-${id}`;
}

function routeOf(r: IngressRoute, resolver: UpstreamResolverSettings | undefined): Record<string, unknown> {
  const handle =
    r.upstream === undefined
      ? {
          handler: 'static_response',
          status_code: 503,
          headers: { 'Retry-After': ['5'] },
          body: `${r.host}: the service is not ready yet\n`,
        }
      : resolver === undefined
        ? {
            handler: 'reverse_proxy',
            upstreams: [{ dial: r.upstream }],
            transport: { ...UPSTREAM_TRANSPORT },
          }
        : {
            handler: 'reverse_proxy',
            dynamic_upstreams: {
              source: 'a',
              name: upstreamHostName(r.id),
              port: splitUpstream(r.upstream).port,
              refresh: `${UPSTREAM_REFRESH_MS}ms`,
              resolver: { addresses: [resolver.address] },
            },
            transport: { ...UPSTREAM_TRANSPORT },
          };
  return { '@id': routeID(r.id), match: [{ host: [r.host] }], handle: [handle], terminal: true };
}

function notFoundRoute(): Record<string, unknown> {
  return {
    '@id': 'orun-not-found',
    handle: [{ handler: 'static_response', status_code: 404, body: 'no service for this host\n' }],
    terminal: true,
  };
}

function acmeIssuer(a: AcmeSettings): Record<string, unknown> {
  const issuer: Record<string, unknown> = { module: 'acme', ca: a.ca ?? LETS_ENCRYPT_PRODUCTION };
  if (a.email !== undefined && a.email !== '') issuer.email = a.email;
  if (a.trustedRootsPemFiles !== undefined && a.trustedRootsPemFiles.length > 0)
    issuer.trusted_roots_pem_files = [...a.trustedRootsPemFiles];
  return issuer;
}

function validate(input: CaddyConfigInput, httpPort: number, httpsPort: number): void {
  const fail = (message: string, context: Record<string, unknown> = {}): never => {
    throw new OrunError('caddy.invalid_config', `caddy: build config: ${message}`, { context });
  };
  for (const [name, port] of [
    ['httpPort', httpPort],
    ['httpsPort', httpsPort],
  ] as const) {
    if (!isPort(port)) fail(`${name}: expected integer 1-65535, got ${port}`);
  }
  if (httpPort === httpsPort) fail(`httpPort and httpsPort are both ${httpPort}`);
  const resolver = input.upstreamResolver?.address;
  if (resolver !== undefined && !/^udp\/127\.0\.0\.1:[0-9]{1,5}$/.test(resolver))
    fail(`upstreamResolver.address: expected "udp/127.0.0.1:<port>", got ${JSON.stringify(resolver)}`);
  if (input.acme?.ca !== undefined && !/^https:\/\/\S+$/.test(input.acme.ca))
    fail(`acme.ca: expected an https:// directory URL, got ${JSON.stringify(input.acme.ca)}`);
  const ids = new Set<string>();
  const hosts = new Map<string, string>();
  for (const r of input.routes) {
    const at = `route ${JSON.stringify(r.id)}`;
    if (!ID.test(r.id)) fail(`${at}: id: expected a DNS-1123 label`, { route: r.id });
    if (ids.has(r.id)) fail(`${at}: duplicate id`, { route: r.id });
    ids.add(r.id);
    if (!HOST.test(r.host))
      fail(`${at}: host: expected a lower-case domain name, got ${JSON.stringify(r.host)}`, { route: r.id });
    const other = hosts.get(r.host);
    if (other !== undefined) fail(`${at}: host ${r.host} is already routed by ${JSON.stringify(other)}`);
    hosts.set(r.host, r.id);
    if (r.upstream !== undefined) {
      const m = UPSTREAM.exec(r.upstream);
      if (!m || !isPort(Number(m[3])))
        fail(`${at}: upstream: expected "ip:port", got ${JSON.stringify(r.upstream)}`, { route: r.id });
    }
  }
}
