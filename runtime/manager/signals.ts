/** The bits of `process` signal handling needs; injectable for tests. */
export interface SignalProcess {
  on(event: StopSignal, fn: () => void): unknown;
  off(event: StopSignal, fn: () => void): unknown;
  exit(code: number): never;
}

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface SignalOptions {
  /** Which signals stop. Default SIGTERM and SIGINT. */
  signals?: readonly StopSignal[];
  /** Exit code of the second signal. Default 1. */
  exitCode?: number;
}

/**
 * Calls `handler` with the signal's name and how many stop signals came so far, for every stop
 * signal until the returned function is called. The one place a CLI subscribes to them.
 */
export function onStopSignals(
  handler: (name: StopSignal, count: number) => void,
  proc: SignalProcess = process,
  signals: readonly StopSignal[] = ['SIGTERM', 'SIGINT'],
): () => void {
  let count = 0;
  const handlers = signals.map((name) => {
    const fn = (): void => handler(name, ++count);
    proc.on(name, fn);
    return [name, fn] as const;
  });
  return () => {
    for (const [name, fn] of handlers) proc.off(name, fn);
  };
}

/**
 * The first stop signal aborts the returned signal (graceful drain); the second exits at once
 * (code 1 unless `opts.exitCode`). `dispose()` removes the handlers.
 */
export function installSignalHandlers(
  proc: SignalProcess = process,
  onSignal?: (name: string, count: number) => void,
  opts: SignalOptions = {},
): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const dispose = onStopSignals(
    (name, count) => {
      onSignal?.(name, count);
      if (count === 1) ac.abort(new Error(`received ${name}`));
      else proc.exit(opts.exitCode ?? 1);
    },
    proc,
    opts.signals,
  );
  return { signal: ac.signal, dispose };
}
