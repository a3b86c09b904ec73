/**
 * A service's output, for `orch logs` and `orunctl logs sg/NAME`: a container's through the
 * engine (`docker logs`), a host service's from the files its supervisor writes
 * (`<logDir>/<service>.log|.err`, or its STDOUT/STDERR). With `follow`, files are polled
 * (`tail -f` does the same) until `signal` aborts; a truncated file is read again from its start.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { realClock, type Clock } from '../clock/index.ts';
import type { ContainerEngine, LogLine } from '../docker/engine.ts';
import type { PreparedService } from './prepare.ts';

/** Where one service's output is. */
export type LogTarget =
  | { readonly service: string; readonly container: string }
  | { readonly service: string; readonly stdoutFile: string; readonly stderrFile: string };

/** A host service's log files: its STDOUT/STDERR, else `<logDir>/<service>.log|.err`. */
export function hostLogTarget(
  service: string,
  logDir: string,
  prepared?: Pick<PreparedService, 'stdoutFile' | 'stderrFile'>,
): LogTarget {
  return {
    service,
    stdoutFile: prepared?.stdoutFile ?? join(logDir, `${service}.log`),
    stderrFile: prepared?.stderrFile ?? join(logDir, `${service}.err`),
  };
}

export interface ServiceLogOptions {
  /** Needed for container targets. */
  readonly engine?: Pick<ContainerEngine, 'containerLogs'>;
  /** Keep reading new lines until `signal` aborts (a container's: until it stops). Default false. */
  readonly follow?: boolean;
  /** Start with the last N lines (per file). Default: all. */
  readonly tail?: number;
  readonly signal?: AbortSignal;
  /** How often files are polled under `follow`. Default 200 ms. */
  readonly pollMs?: number;
  readonly clock?: Clock;
}

/** The target's lines (without newlines). Host files that do not exist yet count as empty. */
export async function* serviceLogs(target: LogTarget, o: ServiceLogOptions = {}): AsyncIterable<LogLine> {
  if ('container' in target) {
    if (o.engine === undefined) return;
    yield* o.engine.containerLogs(target.container, {
      follow: o.follow === true,
      ...(o.tail === undefined ? {} : { tail: o.tail }),
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    });
    return;
  }
  const files = [
    { stream: 'stdout' as const, reader: new FileTail(target.stdoutFile) },
    { stream: 'stderr' as const, reader: new FileTail(target.stderrFile) },
  ];
  for (const f of files) {
    for (const line of f.reader.read(o.tail)) yield { stream: f.stream, line };
    // Without follow, a last line still waiting for its newline is printed as it is.
    if (o.follow !== true && f.reader.partial !== '') yield { stream: f.stream, line: f.reader.partial };
  }
  const clock = o.clock ?? realClock;
  while (o.follow === true && o.signal?.aborted !== true) {
    await clock.sleep(o.pollMs ?? 200, o.signal);
    for (const f of files) {
      for (const line of f.reader.read()) yield { stream: f.stream, line };
    }
  }
}

/** True when the target has written anything yet (a host service's files exist). */
export function hasLogs(target: LogTarget): boolean {
  if ('container' in target) return true;
  return [target.stdoutFile, target.stderrFile].some((f) => {
    try {
      statSync(f);
      return true;
    } catch {
      return false;
    }
  });
}

/** Reads a growing file line by line; a partial last line waits for its newline. */
class FileTail {
  #offset = 0;
  #partial = '';
  readonly #file: string;

  /** What follows the last newline read so far. */
  get partial(): string {
    return this.#partial;
  }

  constructor(file: string) {
    this.#file = file;
  }

  /** The complete lines written since the last read (the last `tail` of them, when given). */
  read(tail?: number): string[] {
    let size: number;
    try {
      size = statSync(this.#file).size;
    } catch {
      return [];
    }
    if (size < this.#offset) {
      this.#offset = 0; // truncated or replaced
      this.#partial = '';
    }
    if (size === this.#offset) return [];
    const buf = Buffer.alloc(size - this.#offset);
    const fd = openSync(this.#file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.#offset);
    } finally {
      closeSync(fd);
    }
    this.#offset = size;
    const lines = (this.#partial + buf.toString('utf8')).split('\n');
    this.#partial = lines.pop() ?? '';
    return tail === undefined ? lines : tail === 0 ? [] : lines.slice(-tail);
  }
}
