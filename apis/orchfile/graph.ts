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
  // Merged services have unique names; the graph works on their indexes.
  const index = new Map<string, number>();
  const names: string[] = [];
  for (const s of services) {
    index.set(s.name, names.length);
    names.push(s.name);
  }

  const edges: number[][] = [];
  const edgePos: Located[][] = [];
  for (const s of services) {
    const to: number[] = [];
    const at: Located[] = [];
    for (const r of s.requires.entries) {
      const i = index.get(r.value);
      if (i === undefined) {
        errors.push(
          errorAt(r.pos, 'unknown-service', `REQUIRES references unknown service '${r.value}'`, {
            service: s.name,
            hint: didYouMean(r.value, names),
          }),
        );
      } else {
        to.push(i);
        at.push(r);
      }
    }
    for (const a of s.after.entries) {
      const i = index.get(a.value);
      if (i !== undefined) {
        to.push(i);
        at.push(a);
      }
    }
    edges.push(to);
    edgePos.push(at);
  }

  // Iterative DFS (a 10,000-service chain must not overflow the stack), services in file order.
  const VISITING = 1;
  const DONE = 2;
  const state = new Uint8Array(names.length);
  const reported = new Set<string>();
  for (let root = 0; root < names.length; root++) {
    if (state[root] !== 0) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    state[root] = VISITING;
    while (path.length > 0) {
      const node = path[path.length - 1]!;
      const deps = edges[node]!;
      const i = next[next.length - 1]!;
      if (i >= deps.length) {
        state[node] = DONE;
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const dep = deps[i]!;
      const st = state[dep];
      if (st === 0) {
        state[dep] = VISITING;
        path.push(dep);
        next.push(0);
      } else if (st === VISITING) {
        const cycle = path.slice(path.indexOf(dep)).map((n) => names[n]!);
        const key = canonical(cycle);
        if (reported.has(key)) continue;
        reported.add(key);
        const pos = edgePos[node]![i]!;
        errors.push(
          errorAt(pos.pos, 'cycle', `dependency cycle detected: ${[...cycle, pos.value].join(' -> ')}`, {
            service: pos.value,
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
