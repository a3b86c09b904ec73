/**
 * The service-graph executor shared by `orch up/down/status` and the ServiceGraph controller:
 * `GraphExecutor` runs an Orchfile graph (containers through runtime/docker, host processes
 * through runtime/process) in dependency order and supervises it; `project.ts` locates a
 * project's name and state directory and reads/writes its run state.
 */
export { GraphExecutor, type GraphExecutorOptions } from './executor.ts';
export {
  defaultHealthChecker,
  type HealthChecker,
  type HealthCheckContext,
  type HealthResult,
} from './health.ts';
export type { OutputSink } from './host.ts';
export { defaultContainerName, defaultNetworkName, LABELS, MANAGED_BY, projectSelector } from './labels.ts';
export { hasLogs, hostLogTarget, serviceLogs, type LogTarget, type ServiceLogOptions } from './logs.ts';
export { readMarker, removeMarker, serviceHash, writeMarker, type ReadyMarker } from './marker.ts';
export { DEFAULTS, prepareService, selectServices, splitWords, type PreparedService } from './prepare.ts';
export { locateProject, startOrder, stateFile, type ProjectLocation } from './project.ts';
export {
  isSameProcess,
  processIdentity,
  readRunState,
  removeRunState,
  serviceRecords,
  writeRunState,
  type ProcessRef,
  type RunState,
  type ServiceRecord,
} from './runstate.ts';
export {
  TERMINAL_STATES,
  type AdoptRecord,
  type GraphEvent,
  type HealthState,
  type ServiceState,
  type ServiceStatus,
} from './types.ts';
export {
  downProject,
  pidAlive,
  projectStatus,
  supervision,
  type ProjectContext,
  type StatusRow,
} from './lifecycle.ts';
export {
  controlSocketPath,
  sendControl,
  serveControl,
  type ControlAnswer,
  type ControlRequest,
} from './control.ts';
