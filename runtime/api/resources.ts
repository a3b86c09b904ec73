/**
 * The resource types the local API serves, Kubernetes-style: a plural path segment, the kind, and
 * the names and short names `orunctl` accepts.
 */
import type { KindName } from '../../apis/run.orcra.dev/v0alpha/meta.ts';

export interface ResourceType {
  /** Path segment under /apis/run.orcra.dev/v0alpha/, e.g. `deployments`. */
  readonly plural: string;
  readonly singular: string;
  readonly kind: KindName;
  readonly shortNames: readonly string[];
}

export const RESOURCES: readonly ResourceType[] = [
  { plural: 'nodes', singular: 'node', kind: 'Node', shortNames: ['no'] },
  { plural: 'deployments', singular: 'deployment', kind: 'Deployment', shortNames: ['deploy'] },
  { plural: 'services', singular: 'service', kind: 'Service', shortNames: ['svc'] },
  { plural: 'servicegraphs', singular: 'servicegraph', kind: 'ServiceGraph', shortNames: ['sg'] },
];

/** The resource served at `plural`, or undefined. */
export function resourceByPlural(plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.plural === plural);
}

/** The resource of `kind` (e.g. `Deployment`). Every KindName has one. */
export function resourceByKind(kind: KindName): ResourceType {
  const r = RESOURCES.find((x) => x.kind === kind);
  if (r === undefined) throw new Error(`no resource for kind ${kind}`);
  return r;
}

/** Resolves what a user typed (`deploy`, `Deployment`, `deployments`) to a resource. */
export function resolveResource(typed: string): ResourceType | undefined {
  const t = typed.toLowerCase();
  return RESOURCES.find((r) => r.plural === t || r.singular === t || r.shortNames.includes(t));
}
