/**
 * The kind-agnostic controller runtime: one folder per concept (see docs/design/runtime.md).
 * Import from here, or from a folder's index for a narrower dependency.
 */
export * from './clock/index.ts';
export * from './conditions/index.ts';
export * from './controller/index.ts';
export * from './events/index.ts';
export * from './log/index.ts';
export * from './manager/index.ts';
export * from './metrics/index.ts';
export * from './store/index.ts';
export * from './workqueue/index.ts';
