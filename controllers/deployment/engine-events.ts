/**
 * Engine events → Deployment keys, so a container that dies is reconciled at once instead of at
 * the next resync. Also the startup sweep: Deployments that own containers but may have left Git
 * while orun was down (enqueue them after the store's first sync; reconcile prunes them).
 */
import { objectKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ContainerEngine, ContainerEvent } from '../../runtime/docker/engine.ts';
import { Label, MANAGED_BY, managedSelector } from './desired.ts';

/** Actions that can change what the reconciler would do. */
export const WATCHED_ACTIONS: readonly string[] = [
  'die',
  'oom',
  'start',
  'stop',
  'kill',
  'destroy',
  'pause',
  'unpause',
];

/** `Deployment/<name>` for an event about a container orun manages; undefined for anything else. */
export function deploymentKeyForEvent(e: Pick<ContainerEvent, 'labels'>): string | undefined {
  if (e.labels[Label.managedBy] !== MANAGED_BY) return undefined;
  const name = e.labels[Label.deployment];
  return name === undefined || name === '' ? undefined : objectKey('Deployment', name);
}

/**
 * Enqueues the Deployment of every managed container event until `signal` aborts. The engine
 * filters by the managed-by label; our own stop/start calls come back here too, which is harmless
 * (the queue dedups and reconcile is idempotent); `ignore` drops the ones not worth a reconcile.
 *
 * @example void watchContainerEvents(engine, signal, (k) => queue.add(k)).catch((err) => log.error({ err }, 'event watch ended'));
 */
export async function watchContainerEvents(
  engine: Pick<ContainerEngine, 'events'>,
  signal: AbortSignal,
  enqueue: (key: string) => void,
  nodeName?: string,
  /** Events to drop, e.g. the `start` of a container the reconciler started itself. */
  ignore?: (e: ContainerEvent) => boolean,
): Promise<void> {
  const labels = managedSelector(nodeName);
  for await (const e of engine.events(signal, { labels, actions: WATCHED_ACTIONS })) {
    if (ignore?.(e) === true) continue;
    const key = deploymentKeyForEvent(e);
    if (key !== undefined) enqueue(key);
  }
}

/** Keys of every Deployment that owns a container on this engine (for the startup sweep). */
export async function managedDeploymentKeys(
  engine: Pick<ContainerEngine, 'listContainers'>,
  nodeName?: string,
): Promise<string[]> {
  const keys = new Set<string>();
  for (const c of await engine.listContainers(managedSelector(nodeName))) {
    const key = deploymentKeyForEvent(c);
    if (key !== undefined) keys.add(key);
  }
  return [...keys].sort();
}
