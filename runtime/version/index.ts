/**
 * This build's version, one value for orun, orunctl and orch (`--version`, `orunctl version`,
 * the agent's API and `orun bootstrap`'s `upgraded A → B`). The builds (hack/build.ts,
 * hack/dist.ts) bake in package.json's version plus `git describe`; run from source, it is
 * package.json's version.
 */
import pkg from '../../package.json' with { type: 'json' };

declare const __ORUN_VERSION__: string | undefined;

export const VERSION: string = typeof __ORUN_VERSION__ === 'string' ? __ORUN_VERSION__ : pkg.version;
