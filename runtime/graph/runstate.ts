/**
 * The one run-state format, shared by `orch up` (foreground or its `-d` supervisor) and the
 * ServiceGraph controller: what runs for a project, so `orch status`/`down` and a restarted orun
 * find it. One JSON file, written atomically (temporary file renamed):
 *
 * - `orch`: `<state dir>/<project>.json`, with `owner` = the supervising `orch up` process;
 * - the agent: `<dataDir>/servicegraphs/<name>/run.json`, with per-service config hashes.
 *
 * A pid on its own is not a process: after a reboot or a wrap-around another process may hold
 * it. Every pid is recorded with its identity (`processIdentity`), and nothing signals a pid whose
 * identity changed (`isSameProcess`).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import { durationSeconds, type OrchGraph } from '../../apis/orchfile/index.ts';
import { DEFAULTS } from './prepare.ts';
import type { ServiceStatus } from './types.ts';

/** A process and its identity when recorded. */
export interface ProcessRef {
  readonly pid: number;
  /** `processIdentity(pid)` at record time; absent where /proc is missing. */
  readonly identity?: string;
}

/** One service: its executor status plus what is needed to find and stop it later. */
export interface ServiceRecord extends ServiceStatus {
  /** `serviceHash` of the definition it runs (the agent adopts only an unchanged one). */
  readonly hash?: string;
  /** `processIdentity(pid)` when recorded. */
  readonly pidIdentity?: string;
  /** TIMEOUT_STOP in ms, to stop it without its Orchfile. */
  readonly stopTimeoutMs: number;
}

export interface RunState {
  /** The project: orch's project name, or the ServiceGraph's name. */
  readonly project: string;
  /** The process supervising the services (`orch up`, foreground or `-d`); absent for the agent. */
  readonly owner?: ProcessRef;
  /** Built-in variables the run had (PORT_OFFSET, CONTAINER_PREFIX ...), for `status`/`down`. */
  readonly vars?: Readonly<Record<string, string>>;
  /** The graph's config hash (the agent). */
  readonly configHash?: string;
  /** Epoch ms of the write. */
  readonly updatedAt: number;
  /** Services in start order (stop in reverse). */
  readonly services: readonly ServiceRecord[];
}

/** Undefined when there is none or it is unreadable (a fresh run overwrites it). */
export function readRunState(file: string): RunState | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as RunState;
    return Array.isArray(s.services) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic: a temporary file renamed over the old one, so a reader never sees half a file. */
export function writeRunState(file: string, state: RunState): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    throw new OrunError('StateWriteFailed', `write run state ${file}: ${(err as Error).message}`, {
      cause: err,
      context: { file },
    });
  }
}

/** Removes the run state only: logs, data, markers and volumes stay. */
export function removeRunState(file: string): void {
  rmSync(file, { force: true });
}

/**
 * Linux: `<boot id>:<start time in ticks>` of `pid`, which no other process shares even when the
 * pid is reused. Undefined where /proc is missing or the process is gone.
 */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}:${fields[19]}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the recorded process: alive, and its identity unchanged (when both are
 * known). The one check before signalling a recorded pid, in `orch down` and the agent alike.
 */
export function isSameProcess(
  ref: ProcessRef,
  o: { alive: (pid: number) => boolean; identify?: (pid: number) => string | undefined },
): boolean {
  if (!o.alive(ref.pid)) return false;
  if (ref.identity === undefined) return true;
  const now = (o.identify ?? processIdentity)(ref.pid);
  return now === undefined || now === ref.identity;
}

/**
 * Executor statuses → records in the graph's start order, each with its pid identity, stop
 * timeout and (when given) config hash.
 */
export function serviceRecords(
  services: readonly ServiceStatus[],
  graph: OrchGraph,
  o: {
    order: readonly string[];
    hashes?: Readonly<Record<string, string>>;
    identify?: (pid: number) => string | undefined;
  },
): ServiceRecord[] {
  const specs = new Map(graph.services.map((s) => [s.name, s]));
  const rank = (s: ServiceStatus): number => o.order.indexOf(s.name);
  return [...services]
    .sort((a, b) => rank(a) - rank(b))
    .map((s) => {
      const stop = specs.get(s.name)?.timeouts.stop;
      const identity = s.pid === undefined ? undefined : (o.identify ?? processIdentity)(s.pid);
      const hash = o.hashes?.[s.name];
      return {
        ...s,
        stopTimeoutMs: stop === undefined ? DEFAULTS.stopTimeoutMs : (durationSeconds(stop) ?? 10) * 1000,
        ...(hash === undefined ? {} : { hash }),
        ...(identity === undefined ? {} : { pidIdentity: identity }),
      };
    });
}
