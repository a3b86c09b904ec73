/** Platform renderers: pure functions from a validated OrchGraph to file contents. */
export { renderLaunchd, parseEnvFile } from './launchd.ts';
export { renderSystemd } from './systemd.ts';
export type { RenderedFile, RenderOptions } from './common.ts';
