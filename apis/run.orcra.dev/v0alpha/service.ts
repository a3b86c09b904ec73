/**
 * Service: exposes a Deployment through the built-in Caddy ingress on a domain, with an ACME
 * certificate when `ssl` is true. Field names and defaults are upstream's; `port` is ours.
 */
import { z } from 'zod';
import type { ApiObject } from './meta.ts';
import { API_VERSION } from './meta.ts';
import { Dns1123Label, ObjectMetaSchema, ObjectStatusFields, Placement, Port, expected } from './fields.ts';
import type { Deployment } from './deployment.ts';

const DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;
const ENV_VAR = /\$\{ENV\}|\$ENV\b/g;

export const ServiceSpecSchema = z.strictObject(
  {
    deployment: Dns1123Label.describe('Name of the Deployment to route to (required).'),
    ingress: z.strictObject(
      {
        domain: z.strictObject(
          {
            default: z
              .string({ error: expected('a domain name') })
              .regex(DOMAIN, { error: expected('a domain name like "app.example.com"') })
              .describe('Domain served on a node tracking main (production) (required).'),
            environment: z
              .string({ error: expected('a domain template containing $ENV') })
              .refine((t) => t.search(ENV_VAR) >= 0 && DOMAIN.test(t.replace(ENV_VAR, 'env')), {
                error: expected('a domain template containing $ENV, like "$ENV.app.example.com"'),
              })
              .optional()
              .describe(
                'Domain on any other branch; $ENV is replaced by the branch name. Without it the Service is not exposed off main.',
              ),
          },
          { error: expected('a mapping with default') },
        ),
        ssl: z
          .boolean({ error: expected('true or false') })
          .default(false)
          .describe('true: serve HTTPS with an ACME certificate. Default: false.'),
        port: Port.optional().describe(
          "The Deployment's containerPort to route to. Default: its first port.",
        ),
      },
      { error: expected('a mapping with domain') },
    ),
    ...Placement,
  },
  { error: expected('a mapping') },
);
export type ServiceSpec = z.output<typeof ServiceSpecSchema>;

export const ServiceStatusSchema = z.object({
  ...ObjectStatusFields,
  /** Where the Service is reachable, e.g. `https://app.example.com`. */
  url: z.string().optional(),
  domain: z.string().optional(),
  /** The `host:port` Caddy proxies to. */
  upstream: z.string().optional(),
  certificate: z.object({ issuer: z.string().optional(), notAfter: z.string().optional() }).optional(),
});
export type ServiceStatus = z.output<typeof ServiceStatusSchema>;

export const ServiceManifestSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Service'),
  metadata: ObjectMetaSchema,
  spec: ServiceSpecSchema,
});

export type Service = ApiObject<'Service', ServiceSpec, ServiceStatus>;

/** The branch that is production and uses `domain.default`. */
export const PRODUCTION_BRANCH = 'main';

/** A branch name as a DNS label: lower-case, other characters to `-`, at most 63. `feature/X` → `feature-x`. */
export function environmentLabel(branch: string): string {
  return (
    branch
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '') || 'env'
  );
}

/**
 * The domain a Service answers on for a node tracking `branch`: `domain.default` on main, else
 * `domain.environment` with `$ENV` set to {@link environmentLabel}(branch); undefined when the
 * Service has no environment template (it is then not exposed off main).
 *
 * @example serviceDomain(svc, 'staging') // 'staging.app.example.com' for environment '$ENV.app.example.com'
 */
export function serviceDomain(spec: Pick<ServiceSpec, 'ingress'>, branch: string): string | undefined {
  const { domain } = spec.ingress;
  if (branch === PRODUCTION_BRANCH) return domain.default.toLowerCase();
  return domain.environment?.replace(ENV_VAR, environmentLabel(branch)).toLowerCase();
}

/**
 * The port mapping a Service routes to: the one whose containerPort is `ingress.port`, else the
 * Deployment's first port; undefined when there is none.
 */
export function serviceTargetPort(
  spec: Pick<ServiceSpec, 'ingress'>,
  deployment: Pick<Deployment, 'spec'>,
): Deployment['spec']['ports'][number] | undefined {
  const ports = deployment.spec.ports;
  const want = spec.ingress.port;
  return want === undefined ? ports[0] : ports.find((p) => p.containerPort === want);
}
