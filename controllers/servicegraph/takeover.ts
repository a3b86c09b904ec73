/**
 * What a new executor takes over from the previous run (the in-memory one after a config change,
 * or the run state on disk after an orun restart), per service:
 * - same config hash, and its process/container still ours → adopted (left running);
 * - config changed, or gone from the graph → stopped (its container removed when changed/gone);
 * - REQUIRES (transitively) a stopped service → stopped too, as systemd's Requires= restarts
 *   dependants, and started again after it.
 * Pure: `owned` says whether a record's process/container may be touched (pid alive and not reused).
 */
import type { AdoptRecord, RunState, ServiceRecord } from '../../runtime/graph/index.ts';
import type { DesiredGraph } from './desired.ts';

export interface TakeoverPlan {
  readonly adopt: Record<string, AdoptRecord>;
  /** Previous instances to stop, dependants first; `remove`: its container is not reused. */
  readonly stop: readonly { record: ServiceRecord; remove: boolean }[];
}

export function planTakeover(
  previous: RunState | undefined,
  desired: DesiredGraph,
  owned: (r: ServiceRecord) => boolean,
): TakeoverPlan {
  if (previous === undefined) return { adopt: {}, stop: [] };
  const changed = (r: ServiceRecord): boolean => desired.serviceHashes[r.name] !== r.hash;
  const restart = new Set(previous.services.filter(changed).map((r) => r.name));
  const specs = new Map(desired.graph.services.map((s) => [s.name, s]));
  for (let grew = true; grew;) {
    grew = false;
    for (const name of desired.services) {
      if (restart.has(name) || !specs.get(name)!.requires.some((r) => restart.has(r))) continue;
      restart.add(name);
      grew = true;
    }
  }
  const adopt: Record<string, AdoptRecord> = {};
  const stop: { record: ServiceRecord; remove: boolean }[] = [];
  for (const r of previous.services) {
    if (!owned(r)) continue;
    if (restart.has(r.name)) {
      stop.push({ record: r, remove: changed(r) });
      continue;
    }
    adopt[r.name] = {
      restarts: r.restarts,
      ...(r.pid === undefined ? {} : { pid: r.pid }),
      ...(r.containerId === undefined ? {} : { containerId: r.containerId }),
    };
  }
  return { adopt, stop: stop.reverse() };
}
