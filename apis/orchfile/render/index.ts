/** Platform renderers: pure functions from a validated OrchGraph to file contents. */
export { renderLaunchd, parseEnvFile } from './launchd.ts';
export { renderSystemd } from './systemd.ts';
export type { RenderedFile, RenderOptions } from './common.ts';
/** Built-in variables (`${ORCH_PROJECT}` …) and their substitution, shared with the graph runner. */
export { builtinVars, cleanProjectName, projectPath, subst } from './common.ts';
export type { Vars } from './common.ts';
