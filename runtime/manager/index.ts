export { Manager, type ManagerOptions } from './manager.ts';
export { GROUP_ORDER, type Runnable, type RunnableGroup, type SyncingRunnable } from './runnable.ts';
export { runChecks, type Checker, type CheckResponse } from './healthz.ts';
export { parseAddress, ProbeServer, type ProbeServerOptions } from './server.ts';
export {
  installSignalHandlers,
  onStopSignals,
  type SignalOptions,
  type SignalProcess,
  type StopSignal,
} from './signals.ts';
export { memoryTrimRunnable, shouldTrim, type HeapSample, type MemoryTrimOptions } from './memory.ts';
