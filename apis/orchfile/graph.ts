/**
 * Stage 3: the dependency graph. REQUIRES must name an existing service (AFTER may name an absent
 * one: it only orders), and REQUIRES + AFTER edges must form a DAG (C4). Each cycle is reported
 * once, with its path (`a -> b -> a`), at the dependency that closes it.
 */
import { errorAt, type OrchfileError } from './errors.ts';
import type { Located, RawService } from './raw.ts';
import { didYouMean } from '../suggest.ts';

export function checkGraph(services: readonly RawService[]): OrchfileError[] {
  const g = dependencyGraph(services);
  return [...g.errors, ...cycleErrors(g)];
}

/** Services by index, with the edges of their REQUIRES and AFTER (in that order) to each other. */
interface Graph {
  readonly names: string[];
  /** edges[i]: the indexes service i depends on. */
  readonly edges: number[][];
  /** edgePos[i][j]: where edges[i][j] was written. */
  readonly edgePos: Located[][];
  /** REQUIRES of unknown services. */
  readonly errors: OrchfileError[];
}

function dependencyGraph(services: readonly RawService[]): Graph {
  const g: Graph = { names: [], edges: [], edgePos: [], errors: [] };
  // Merged services have unique names; the graph works on their indexes.
  const index = new Map<string, number>();
  for (const s of services) {
    index.set(s.name, g.names.length);
    g.names.push(s.name);
  }
  for (const s of services) {
    const to: number[] = [];
    const at: Located[] = [];
    for (const r of s.requires.entries) {
      const i = index.get(r.value);
      if (i === undefined) {
        g.errors.push(
          errorAt(r.pos, 'unknown-service', `REQUIRES references unknown service '${r.value}'`, {
            service: s.name,
            hint: didYouMean(r.value, g.names),
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
    g.edges.push(to);
    g.edgePos.push(at);
  }
  return g;
}

/**
 * C4: one error per cycle, at the dependency that closes it. An iterative DFS (a 10,000-service
 * chain must not overflow the stack), services in file order.
 */
function cycleErrors({ names, edges, edgePos }: Graph): OrchfileError[] {
  const errors: OrchfileError[] = [];
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
