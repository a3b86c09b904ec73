export { withSuspension, type SuspendBackendOptions } from './backend.ts';
export {
  annotatedSuspended,
  SUSPEND_FILE,
  SuspendErrorCode,
  SuspendState,
  type SuspendChange,
  type SuspendedBy,
} from './state.ts';
