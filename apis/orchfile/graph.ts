/**
 * Stage 3: the dependency graph. REQUIRES must name an existing service (AFTER may name an absent
 * one: it only orders), and REQUIRES + AFTER edges must form a DAG (C4). Each cycle is reported
 * once, with its path (`a -> b -> a`), at the dependency that closes it.
 */
import { errorAt, type OrchfileError } from './errors.ts';
import type { Located, RawService } from './raw.ts';
import { didYouMean } from '../suggest.ts';

export function checkGraph(services: readonly RawService[]): OrchfileError[] {
  const errors: OrchfileError[] = [];
  const byName = new Map(services.map((s) => [s.name, s]));
  const names = [...byName.keys()];

  const edges = new Map<string, Located[]>();
  for (const s of services) {
    for (const r of s.requires.entries) {
      if (!byName.has(r.value)) {
        errors.push(
          errorAt(r.pos, 'unknown-service', `REQUIRES references unknown service '${r.value}'`, {
            service: s.name,
            hint: didYouMean(r.value, names),
          }),
        );
      }
    }
    edges.set(
      s.name,
      [...s.requires.entries, ...s.after.entries].filter((d) => byName.has(d.value)),
    );
  }

  // Iterative DFS (a 10,000-service chain must not overflow the stack), services in file order.
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  for (const root of names) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const next: number[] = [0];
    state.set(root, 'visiting');
    while (path.length > 0) {
      const node = path[path.length - 1]!;
      const deps = edges.get(node)!;
      const i = next[next.length - 1]!;
      if (i >= deps.length) {
        state.set(node, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const dep = deps[i]!;
      const st = state.get(dep.value);
      if (st === undefined) {
        state.set(dep.value, 'visiting');
        path.push(dep.value);
        next.push(0);
      } else if (st === 'visiting') {
        const cycle = path.slice(path.indexOf(dep.value));
        const key = canonical(cycle);
        if (reported.has(key)) continue;
        reported.add(key);
        errors.push(
          errorAt(dep.pos, 'cycle', `dependency cycle detected: ${[...cycle, dep.value].join(' -> ')}`, {
            service: dep.value,
          }),
        );
      }
    }
  }
  return errors;
}

/** The same cycle found from another node reads as a rotation; compare rotations as one. */
function canonical(cycle: string[]): string {
  let best = 0;
  for (let i = 1; i < cycle.length; i++) if (cycle[i]! < cycle[best]!) best = i;
  return [...cycle.slice(best), ...cycle.slice(0, best)].join('\u0000');
}
