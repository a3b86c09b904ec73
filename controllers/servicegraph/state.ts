/**
 * What the controller keeps on disk per ServiceGraph, `<dataDir>/servicegraphs/<name>/run.json`,
 * so a restarted orun can take over what it left running: per service the config hash it was
 * started with, the host process (pid plus an identity that tells a reused pid apart) or the
 * container id. Written after every reconcile and at shutdown (detach).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';

export interface ServiceRunRecord {
  readonly name: string;
  readonly mode: 'container' | 'host';
  /** The service's config hash (desired.ts `serviceHashes`). */
  readonly hash: string;
  readonly pid?: number;
  /** `processIdentity(pid)` when recorded: a pid whose identity differs now is someone else's. */
  readonly pidIdentity?: string;
  readonly containerId?: string;
  readonly restarts: number;
  /** TIMEOUT_STOP, for stopping a process that is not taken over. */
  readonly stopTimeoutMs: number;
}

export interface GraphRunState {
  readonly name: string;
  /** The graph's config hash. */
  readonly configHash: string;
  /** Epoch ms of the write. */
  readonly updatedAt: number;
  /** Services in start order (stop in reverse). */
  readonly services: readonly ServiceRunRecord[];
}

export function stateFile(dir: string): string {
  return join(dir, 'run.json');
}

/** Undefined when there is none or it is unreadable (then nothing is adopted). */
export function readState(dir: string): GraphRunState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as GraphRunState;
    return typeof s.configHash === 'string' && Array.isArray(s.services) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic: a temporary file renamed over the old one. */
export function writeState(dir: string, state: GraphRunState): void {
  const file = stateFile(dir);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    throw new OrunError(
      'StateWriteFailed',
      `servicegraph: write run state ${file}: ${(err as Error).message}`,
      {
        cause: err,
        context: { file },
      },
    );
  }
}

/** Removes the run state only: logs, ORCH_DATA and named volumes stay (data is never deleted). */
export function removeState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

/**
 * Linux: `<boot id>:<start time in ticks>` of `pid`, which no other process shares even when the
 * pid is reused (after a reboot or a wrap-around). Undefined where /proc is missing.
 */
export function procIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}:${fields[19]}`;
  } catch {
    return undefined;
  }
}
