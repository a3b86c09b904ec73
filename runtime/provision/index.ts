/**
 * Provisioning a node over SSH (`orun bootstrap`): a validated request, a short list of named,
 * idempotent steps run over one `runtime/ssh` session, and the files they install.
 *
 * @example
 * const result = await bootstrap(req, {
 *   connector: new Ssh2Connector(),
 *   assets: findAssets(),
 *   log: (line) => process.stderr.write(`${line}\n`),
 *   print: (text) => process.stdout.write(text),
 *   signal,
 * });
 */
export { findAssets } from './assets.ts';
export type { BootstrapAssets } from './assets.ts';
export {
  FACTS_SCRIPT,
  PACKAGES,
  REMOTE,
  ageKeyPath,
  deployKeyPath,
  nodeArch,
  parseFacts,
  renderEnvironment,
} from './remote.ts';
export type { RemoteFacts } from './remote.ts';
export {
  BootstrapErrorCode,
  checkRequest,
  isSshRepo,
  manifestPath,
  parseLabel,
  renderNodeManifest,
  sameNode,
} from './request.ts';
export type { BootstrapRequest } from './request.ts';
export { SERVICE_STATE_SCRIPT, STAT_DIRS_SCRIPT, STAT_FILES_SCRIPT, StepRunner } from './session.ts';
export type { BootstrapDeps, BootstrapResult, ManagedFile, StepOutcome, Upgrade } from './session.ts';
export { bootstrap, upgradeText } from './steps.ts';
