/** The bits of `process` signal handling needs; injectable for tests. */
export interface SignalProcess {
  on(event: 'SIGTERM' | 'SIGINT', fn: () => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', fn: () => void): unknown;
  exit(code: number): never;
}

/**
 * The first SIGTERM/SIGINT aborts the returned signal (graceful drain); the second exits at
 * once with code 1. `dispose()` removes the handlers.
 */
export function installSignalHandlers(
  proc: SignalProcess = process,
  onSignal?: (name: string, count: number) => void,
): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  let count = 0;
  const handlers = (['SIGTERM', 'SIGINT'] as const).map((name) => {
    const fn = (): void => {
      count++;
      onSignal?.(name, count);
      if (count === 1) ac.abort(new Error(`received ${name}`));
      else proc.exit(1);
    };
    proc.on(name, fn);
    return [name, fn] as const;
  });
  return {
    signal: ac.signal,
    dispose: () => {
      for (const [name, fn] of handlers) proc.off(name, fn);
    },
  };
}
