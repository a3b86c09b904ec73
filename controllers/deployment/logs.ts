import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import { deploymentSelector } from './desired.ts';

/** What `orunctl logs` may ask for. */
export interface ContainerLogOptions {
  follow?: boolean;
  tailLines?: number;
}

/**
 * The log lines of Deployment `name`'s container on this node (the running one, else the
 * newest), one item per line. Ends when `signal` aborts or the container's log ends.
 */
export function deploymentLogs(
  engine: Pick<ContainerEngine, 'listContainers' | 'containerLogs'>,
  nodeName: string,
): (name: string, options: ContainerLogOptions, signal: AbortSignal) => AsyncIterable<string> {
  return async function* (name, options, signal) {
    const containers = await engine.listContainers(deploymentSelector(name, nodeName));
    const c = containers.find((x) => x.state === 'running') ?? containers[0];
    if (c === undefined) return;
    for await (const l of engine.containerLogs(c.id, {
      follow: options.follow ?? false,
      ...(options.tailLines === undefined ? {} : { tail: options.tailLines }),
      signal,
    }))
      yield l.line;
  };
}
