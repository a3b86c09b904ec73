/** A long-lived task: runs until `signal` aborts, then cleans up and resolves. */
export interface Runnable {
  name: string;
  start(signal: AbortSignal): Promise<void>;
}

/**
 * A runnable the manager waits for before starting the next group: either `hasSynced()` (polled)
 * or a `synced` promise (a server resolves it once it listens; a source once its cache is full).
 */
export interface SyncingRunnable extends Runnable {
  hasSynced?(): boolean;
  synced?: Promise<void>;
}

/** Start order: servers, then sources (waited until synced), then controllers. Stop is the reverse. */
export type RunnableGroup = 'servers' | 'sources' | 'controllers';
export const GROUP_ORDER: readonly RunnableGroup[] = ['servers', 'sources', 'controllers'];
