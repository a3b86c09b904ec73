/**
 * Host services as orch runs them: a small interface with a real implementation (`node.ts`,
 * node:child_process) and an in-memory fake (`fake.ts`) side by side. One contract suite
 * (`runner.contract.ts`) runs against both, so the fake cannot drift.
 *
 * Every service is a shell command (`RUN` is shell text by design: `/bin/sh -c <command>`) started
 * as the leader of its own process group, so stopping it reaches everything it forked and a
 * terminal's Ctrl-C does not hit the children before orch can stop them in order.
 */

/** Stable error codes. */
export const ProcessErrorCode = {
  /** The command could not be started (bad working directory, unknown user, no /bin/sh). */
  SpawnFailed: 'ProcessSpawnFailed',
} as const;
export type ProcessErrorCode = (typeof ProcessErrorCode)[keyof typeof ProcessErrorCode];

/**
 * Where a stream goes. `inherit`: orch's own stream; `ignore`: dropped; `{ file }`: appended to
 * that file (created with its directory); a function: called once per line, without the newline.
 */
export type OutputTarget = 'inherit' | 'ignore' | { readonly file: string } | ((line: string) => void);

export interface ProcessSpec {
  /** The service name, for errors. */
  readonly name: string;
  /** Shell text, run as `/bin/sh -c <command>`. */
  readonly command: string;
  /** Working directory. Default: the runner's current directory. */
  readonly cwd?: string;
  /** The complete environment (nothing is inherited when set). Default: the runner's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run as this user (name or numeric uid); only root can switch. Default: the current user. */
  readonly user?: string;
  /** Default `inherit`. */
  readonly stdout?: OutputTarget;
  /** Default `inherit`. */
  readonly stderr?: OutputTarget;
}

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface ProcessHandle {
  /** Also the process group id. */
  readonly pid: number;
  /** Resolves once the process has exited; never rejects. */
  readonly exited: Promise<ProcessExit>;
  /**
   * Stops tracking the child so orch can exit while it keeps running (`orch up --detach`). Only
   * meaningful for file/ignore/inherit outputs: a line callback's pipe dies with orch.
   */
  release(): void;
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly user?: string;
  /** The whole process group is killed (SIGKILL) after this long. Default 10000. */
  readonly timeoutMs?: number;
  /** Kills the process group at once. */
  readonly signal?: AbortSignal;
}

export interface ExecResult extends ProcessExit {
  /** True when `timeoutMs` ran out (or `signal` aborted) and the command was killed. */
  readonly timedOut: boolean;
  /** The last 2 KiB of stdout+stderr, for messages. */
  readonly output: string;
}

export interface ProcessRunner {
  /** Starts a service. Rejects `ProcessSpawnFailed` when it cannot start at all. */
  spawn(spec: ProcessSpec): Promise<ProcessHandle>;
  /** Runs a command to completion (health checks, STOP, RELOAD). Never rejects for a failing command. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Whether a process group led by `pid` still exists (also for processes of an earlier orch). */
  alive(pid: number): boolean;
  /** Sends `signal` to the process group led by `pid`; false when there is none. */
  signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean;
}
