/**
 * run.orcra.dev/v0alpha: the API objects (Node, Deployment, Service, ServiceGraph), decoding of
 * manifest files with positioned errors, and the cross-object checks `orun validate` runs.
 */
export * from './meta.ts';
export * from './duration.ts';
export * from './fields.ts';
export * from './node.ts';
export * from './deployment.ts';
export * from './service.ts';
export * from './servicegraph.ts';
export * from './scheme.ts';
export * from './manifesterror.ts';
export * from './decode.ts';
export * from './limits.ts';
export * from './placement.ts';
export * from './hostpath.ts';
export * from './checks.ts';
export * from './jsonschema.ts';
