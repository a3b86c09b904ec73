/**
 * The scheme: every kind of run.orcra.dev/v0alpha, its manifest schema, status schema and
 * repository directory, so kind-agnostic code (decoding, `orun schema`, the store) looks kinds up here.
 */
import type { z } from 'zod';
import type { KindName } from './meta.ts';
import { type Deployment, DeploymentManifestSchema, DeploymentStatusSchema } from './deployment.ts';
import { type Node, NodeManifestSchema, NodeStatusSchema } from './node.ts';
import { type Service, ServiceManifestSchema, ServiceStatusSchema } from './service.ts';
import { type ServiceGraph, ServiceGraphManifestSchema, ServiceGraphStatusSchema } from './servicegraph.ts';

/** Every kind, in the order summaries and `orun schema` list them. */
export const KINDS = ['Node', 'Deployment', 'Service', 'ServiceGraph'] as const satisfies readonly KindName[];

/** Any decoded object. Narrow on `kind`. */
export type AnyObject = Node | Deployment | Service | ServiceGraph;

/** The object type of one kind: `ObjectOfKind<'Service'>` is `Service`. */
export type ObjectOfKind<K extends KindName> = Extract<AnyObject, { kind: K }>;

/** kind → the schema a manifest document of that kind must satisfy (strict; no status). */
export const manifestSchemas = {
  Node: NodeManifestSchema,
  Deployment: DeploymentManifestSchema,
  Service: ServiceManifestSchema,
  ServiceGraph: ServiceGraphManifestSchema,
} as const satisfies Record<KindName, z.ZodType>;

/** kind → the schema of its status (held by the node, never in Git). */
export const statusSchemas = {
  Node: NodeStatusSchema,
  Deployment: DeploymentStatusSchema,
  Service: ServiceStatusSchema,
  ServiceGraph: ServiceGraphStatusSchema,
} as const satisfies Record<KindName, z.ZodType>;

/** kind → the repository directory its manifests live in. */
export const kindDirectories = {
  Node: 'nodes',
  Deployment: 'deployments',
  Service: 'services',
  ServiceGraph: 'servicegraphs',
} as const satisfies Record<KindName, string>;

/** True when `kind` names a kind of this API version. */
export function isKind(kind: unknown): kind is KindName {
  return typeof kind === 'string' && (KINDS as readonly string[]).includes(kind);
}

/** The kind whose directory is the first segment of a repo-relative path, if any. */
export function kindForPath(path: string): KindName | undefined {
  const dir = path.split('/')[0];
  return KINDS.find((k) => kindDirectories[k] === dir);
}

// Compile-time checks: a decoded manifest is the runtime's object type.
type Assert<T extends true> = T;
export type _ManifestsAreObjects = Assert<
  z.output<(typeof manifestSchemas)['Node']> extends Node
    ? z.output<(typeof manifestSchemas)['Deployment']> extends Deployment
      ? z.output<(typeof manifestSchemas)['Service']> extends Service
        ? z.output<(typeof manifestSchemas)['ServiceGraph']> extends ServiceGraph
          ? true
          : false
        : false
      : false
    : false
>;
