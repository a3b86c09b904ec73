/** Host services (`RUN`) through a ProcessRunner. */
import { join } from 'node:path';
import type { Clock } from '../clock/index.ts';
import { stopProcessGroup, type OutputTarget, type ProcessRunner } from '../process/index.ts';
import type { PreparedService } from './prepare.ts';
import type { Instance } from './types.ts';

export type OutputSink = (service: string, stream: 'stdout' | 'stderr', line: string) => void;

export interface HostDriverOptions {
  readonly runner: ProcessRunner;
  readonly clock: Clock;
  /** The environment services start from (ENV_FILE and ENV are laid over it). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Whether USER is honoured (only root can switch users). */
  readonly switchUser: boolean;
  /** Output goes to `<logDir>/<service>.log|.err` (detached runs). Wins over `output`. */
  readonly logDir?: string;
  /** Output lines (foreground runs). Default: dropped. */
  readonly output?: OutputSink;
}

export function hostEnv(s: PreparedService, o: Pick<HostDriverOptions, 'baseEnv'>): Record<string, string> {
  return { ...o.baseEnv, ...s.env };
}

export async function startHost(s: PreparedService, o: HostDriverOptions): Promise<Instance> {
  const target = (stream: 'stdout' | 'stderr', file: string | undefined, ext: string): OutputTarget => {
    if (file !== undefined) return { file };
    if (o.logDir !== undefined) return { file: join(o.logDir, `${s.name}.${ext}`) };
    const sink = o.output;
    return sink === undefined ? 'ignore' : (line) => sink(s.name, stream, line);
  };
  const env = hostEnv(s, o);
  const handle = await o.runner.spawn({
    name: s.name,
    command: s.command ?? '',
    cwd: s.workdir,
    env,
    user: o.switchUser ? s.spec.user : undefined,
    stdout: target('stdout', s.stdoutFile, 'log'),
    stderr: target('stderr', s.stderrFile, 'err'),
  });
  const exited = handle.exited.then((e) => ({ code: e.code }));
  return {
    pid: handle.pid,
    startedAt: o.clock.now(),
    exited,
    stop: async () => {
      await stopProcessGroup(o.runner, o.clock, handle.pid, {
        stopCommand: s.stopCommand,
        timeoutMs: s.stopTimeoutMs,
        env,
        cwd: s.workdir,
        exited,
      });
    },
    release: () => {
      handle.release();
      return Promise.resolve();
    },
  };
}

/**
 * Takes over a host service left running by an earlier executor (`detach()`): it is not this
 * process's child, so its end is noticed by polling its process group every `pollMs`, and its
 * exit code is unknown (null). Stopping it is the same as for a spawned one.
 */
export function adoptHost(
  s: PreparedService,
  pid: number,
  o: Pick<HostDriverOptions, 'runner' | 'clock' | 'baseEnv'> & { readonly pollMs: number },
): Instance {
  const watch = new AbortController();
  const exited = (async (): Promise<{ code: number | null }> => {
    while (!watch.signal.aborted && o.runner.alive(pid)) await o.clock.sleep(o.pollMs, watch.signal);
    return { code: null };
  })();
  const env = hostEnv(s, o);
  return {
    pid,
    startedAt: o.clock.now(),
    exited,
    stop: async () => {
      await stopProcessGroup(o.runner, o.clock, pid, {
        stopCommand: s.stopCommand,
        timeoutMs: s.stopTimeoutMs,
        env,
        cwd: s.workdir,
      });
      watch.abort();
      await exited;
    },
    release: async () => {
      watch.abort();
      await exited;
    },
  };
}
