// orch's graph-running commands (up, down, status, logs, restart). hack/build.ts bundles them on
// their own (dist/orch-run.cjs), so parse, validate and render never load Docker's client.
export { runDown } from '../../runtime/cli/orch/down.ts';
export { runLogs } from '../../runtime/cli/orch/logs.ts';
export { runRestart } from '../../runtime/cli/orch/restart.ts';
export { runStatus } from '../../runtime/cli/orch/status.ts';
export { runUp } from '../../runtime/cli/orch/up.ts';
