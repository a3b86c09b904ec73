/**
 * Stopping a host service the way the spec and systemd do: the STOP command if there is one, then
 * SIGTERM to what is left of the process group; SIGKILL to the group once TIMEOUT_STOP has passed.
 */
import type { Clock } from '../clock/index.ts';
import type { ProcessRunner } from './runner.ts';

export interface StopOptions {
  /** The service's STOP command, run with `MAINPID` set. Default: SIGTERM to the group. */
  readonly stopCommand?: string;
  /** Grace period before SIGKILL. Default 10000 (the spec's TIMEOUT_STOP default, 10s). */
  readonly timeoutMs?: number;
  /** Environment and directory for the STOP command. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Resolves when the leader has exited (a spawned handle's `exited`); wakes the wait early. */
  readonly exited?: Promise<unknown>;
  /** How often the group is checked. Default 50. */
  readonly pollMs?: number;
}

/** How the group ended: `term` (gone within the grace period), `kill` (needed SIGKILL), `gone` (was not running). */
export type StopOutcome = 'term' | 'kill' | 'gone';

export async function stopProcessGroup(
  runner: ProcessRunner,
  clock: Clock,
  pid: number,
  options: StopOptions = {},
): Promise<StopOutcome> {
  if (!runner.alive(pid)) return 'gone';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = clock.now() + timeoutMs;
  if (options.stopCommand !== undefined) {
    await runner.exec(options.stopCommand, {
      env: { ...(options.env ?? stringEnv(process.env)), MAINPID: String(pid) },
      cwd: options.cwd,
      timeoutMs,
    });
  }
  // As systemd's KillMode=control-group: whatever the STOP command left running gets SIGTERM too.
  runner.signalGroup(pid, 'SIGTERM');
  if (await waitGone(runner, clock, pid, deadline, options)) return 'term';
  runner.signalGroup(pid, 'SIGKILL');
  // SIGKILL cannot be ignored; the bound only guards against an unreapable (D-state) process.
  await waitGone(runner, clock, pid, clock.now() + 5_000, options);
  return 'kill';
}

async function waitGone(
  runner: ProcessRunner,
  clock: Clock,
  pid: number,
  deadline: number,
  options: StopOptions,
): Promise<boolean> {
  const pollMs = options.pollMs ?? 50;
  // Once the leader has exited, other group members may linger: from then on, plain polling.
  let exited = options.exited?.then(() => {
    exited = undefined;
  });
  for (;;) {
    if (!runner.alive(pid)) return true;
    const left = deadline - clock.now();
    if (left <= 0) return false;
    const ac = new AbortController();
    const sleep = clock.sleep(Math.min(pollMs, left), ac.signal);
    await (exited === undefined ? sleep : Promise.race([sleep, exited]));
    ac.abort();
  }
}

/** `process.env` without its undefined values. */
export function stringEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
