/**
 * `orun_servicegraph_services{servicegraph,state}`: services per graph by state (lower-case
 * executor states: running, starting, failed ...). Registered on the injected Registry; a second
 * controller on the same registry reuses it.
 */
import { Gauge, type Registry } from 'prom-client';

export class GraphMetrics {
  readonly #gauge: Gauge<'servicegraph' | 'state'> | undefined;
  readonly #last = new Map<string, Set<string>>();

  constructor(registry?: Registry) {
    if (registry === undefined) return;
    const name = 'orun_servicegraph_services';
    this.#gauge =
      (registry.getSingleMetric(name) as Gauge<'servicegraph' | 'state'> | undefined) ??
      new Gauge({
        name,
        help: 'Services of a ServiceGraph on this node by state (running, starting, failed, ...).',
        labelNames: ['servicegraph', 'state'],
        registers: [registry],
      });
  }

  /** Replaces the graph's series with these counts (states absent now drop out). */
  set(graph: string, states: readonly string[]): void {
    if (this.#gauge === undefined) return;
    const counts = new Map<string, number>();
    for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const s of this.#last.get(graph) ?? []) {
      if (!counts.has(s)) this.#gauge.remove({ servicegraph: graph, state: s });
    }
    for (const [state, n] of counts) this.#gauge.set({ servicegraph: graph, state }, n);
    this.#last.set(graph, new Set(counts.keys()));
  }

  delete(graph: string): void {
    this.set(graph, []);
    this.#last.delete(graph);
  }
}
