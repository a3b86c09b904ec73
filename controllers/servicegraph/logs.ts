/**
 * `orunctl logs sg/NAME [SERVICE] [-f]`: a ServiceGraph's output through the agent's API. One
 * service, or every service of the graph in start order, each line prefixed `[service] ` when
 * there are several (kubectl's `--prefix`). Without follow the services come one after the other;
 * with follow they are interleaved as lines arrive, until the request's signal aborts.
 */
import { concat, defer, EMPTY, from, map, merge, catchError, type Observable } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import { serviceLogs, type LogTarget } from '../../runtime/graph/index.ts';

export interface GraphLogOptions {
  follow?: boolean;
  tailLines?: number;
  /** One service (kubectl's `container`). Default: all. */
  container?: string;
}

/**
 * Rejects `UnknownService` (naming the graph's services) for a service the graph does not run
 * here. A graph that has run nothing on this node has no lines.
 */
export function serviceGraphLogs(o: {
  targets: (name: string) => readonly LogTarget[] | undefined;
  engine: Pick<ContainerEngine, 'containerLogs'>;
  clock?: Clock;
}): (name: string, options: GraphLogOptions, signal: AbortSignal) => Promise<Observable<string>> {
  return (name, options, signal) => {
    const all = o.targets(name) ?? [];
    let targets = all;
    if (options.container !== undefined) {
      targets = all.filter((t) => t.service === options.container);
      if (targets.length === 0) {
        const known = all.map((t) => t.service).join(', ');
        return Promise.reject(
          new OrunError(
            'UnknownService',
            `servicegraph "${name}" has no service "${options.container}"; ${
              known === '' ? 'it runs no services on this node yet' : `its services: ${known}`
            }`,
            { context: { servicegraph: name, service: options.container } },
          ),
        );
      }
    }
    const prefixed = targets.length > 1;
    const streams = targets.map((t) =>
      defer(() =>
        from(
          serviceLogs(t, {
            engine: o.engine,
            follow: options.follow === true,
            signal,
            ...(options.tailLines === undefined ? {} : { tail: options.tailLines }),
            ...(o.clock === undefined ? {} : { clock: o.clock }),
          }),
        ),
      ).pipe(
        map((l) => (prefixed ? `[${t.service}] ${l.line}` : l.line)),
        // A container not created yet (or removed) has no logs; the other services go on.
        catchError(() => EMPTY),
      ),
    );
    return Promise.resolve(options.follow === true ? merge(...streams) : concat(...streams));
  };
}
