/**
 * ServiceGraph: runs an Orchfile service graph (base file plus overlays) on the selected nodes.
 * Ours, not upstream's; the Orchfile format itself lives in apis/orchfile.
 */
import { z } from 'zod';
import type { ApiObject } from './meta.ts';
import { API_VERSION } from './meta.ts';
import { NonEmpty, ObjectMetaSchema, ObjectStatusFields, Placement, expected } from './fields.ts';

const RepoPath = NonEmpty.refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
  error: expected("a path relative to the repository root without '..'"),
});

export const ServiceGraphSpecSchema = z.strictObject(
  {
    orchfiles: z
      .array(RepoPath, { error: expected('a list of Orchfile paths') })
      .min(1, { error: 'expected at least one Orchfile path' })
      .describe('Orchfiles, relative to the repository root: the base first, then overlays (required).'),
    args: z
      .record(z.string(), z.string({ error: expected('string') }), {
        error: expected('a mapping of strings'),
      })
      .default({})
      .describe("Values for the Orchfiles' ARGs. Default: none."),
    services: z
      .array(NonEmpty, { error: expected('a list of service names') })
      .optional()
      .describe('Services to run, DISABLED ones included. Default: every enabled service.'),
    portOffset: z
      .int({ error: expected('an integer') })
      .min(0, { error: 'expected 0 or more' })
      .max(65534, { error: 'expected at most 65534' })
      .optional()
      .describe(
        'PORT_OFFSET: added to every PUBLISH host port, so copies of one project run side by side (orch up --port-offset). Default 0.',
      ),
    containerPrefix: z
      .string({ error: expected('string') })
      .regex(/^[a-z0-9_-]*$/, { error: "expected lowercase letters, digits, '-' or '_'" })
      .optional()
      .describe("CONTAINER_PREFIX: prepended to the graph's container names (orch up --prefix). Default ''."),
    ...Placement,
  },
  { error: expected('a mapping') },
);
export type ServiceGraphSpec = z.output<typeof ServiceGraphSpecSchema>;

export const GraphServiceStatusSchema = z.object({
  name: z.string(),
  /** `container` or `host`. */
  mode: z.string().optional(),
  /** e.g. Pending, Starting, Running, Ready, Exited, Failed. */
  state: z.string(),
  ready: z.boolean().optional(),
  restarts: z.int().optional(),
  /** The last exit code, once it exited. */
  exitCode: z.int().optional(),
  /** When it entered this state (RFC 3339). */
  since: z.string().optional(),
  containerID: z.string().optional(),
  pid: z.int().optional(),
  message: z.string().optional(),
  /** Why it last failed, kept while it runs again after a restart. */
  lastError: z.string().optional(),
});
export type GraphServiceStatus = z.output<typeof GraphServiceStatusSchema>;

export const ServiceGraphStatusSchema = z.object({
  ...ObjectStatusFields,
  services: z.array(GraphServiceStatusSchema).optional(),
});
export type ServiceGraphStatus = z.output<typeof ServiceGraphStatusSchema>;

export const ServiceGraphManifestSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ServiceGraph'),
  metadata: ObjectMetaSchema,
  spec: ServiceGraphSpecSchema,
});

export type ServiceGraph = ApiObject<'ServiceGraph', ServiceGraphSpec, ServiceGraphStatus>;
