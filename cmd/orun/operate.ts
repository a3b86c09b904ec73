/**
 * Operating a node the way Flux users do: suspend/resume (persisted in `<dataDir>/suspend.json`,
 * or the `run.orcra.dev/suspend` annotation), `orun diff` over the local API, and the push-webhook
 * receiver. Wiring only; the parts live in runtime/suspend, runtime/webhook and controllers/diff.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import { objectKey, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { managedDeploymentKeys } from '../../controllers/deployment/index.ts';
import { diffTree, type TreeDiffDeps } from '../../controllers/diff/tree.ts';
import type { ApiBackend } from '../../runtime/api/backend.ts';
import type { Controller } from '../../runtime/controller/index.ts';
import type { ContainerEngine } from '../../runtime/docker/engine.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { SyncingRunnable } from '../../runtime/manager/index.ts';
import type { Registry } from '../../runtime/metrics/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import {
  annotatedSuspended,
  SUSPEND_FILE,
  SuspendState,
  withSuspension,
} from '../../runtime/suspend/index.ts';
import { WebhookReceiver } from '../../runtime/webhook/index.ts';
import type { AgentSettings } from '../../runtime/config/settings.ts';

export interface Suspension {
  state: SuspendState;
  /** Loads the file before the controllers start (servers group); fails the agent on a bad file. */
  loader: SyncingRunnable;
  /** The API backend with suspension shown and `suspend`/`resume`/`diff` served. */
  backend: (inner: ApiBackend, diff: Omit<TreeDiffDeps, 'suspended' | 'current'>) => ApiBackend;
}

export interface SuspensionParts {
  settings: AgentSettings;
  store: Store;
  engine: Pick<ContainerEngine, 'listContainers'>;
  /** The controllers to gate, with how to enqueue every key of theirs on resume. */
  controllers: { controller: Controller; keys: () => Promise<readonly string[]> }[];
  logger: Logger;
}

/** Suspension for the agent: gates on every controller, resume re-enqueues, the API overlay. */
export function suspension(p: SuspensionParts): Suspension {
  const state = new SuspendState(join(p.settings.dataDir, SUSPEND_FILE));
  const node = (): ApiObject | undefined => p.store.get('Node', p.settings.node) as ApiObject | undefined;
  const suspended = (key: string): boolean =>
    state.suspendedBy(key, p.store.getByKey(key), node()) !== undefined;
  for (const c of p.controllers) c.controller.setGate(suspended);
  const log = p.logger.child({ component: 'suspend' });
  const resumeAll = async (): Promise<void> => {
    for (const c of p.controllers) for (const key of await c.keys()) c.controller.enqueue(key);
  };
  const resume = (key: string | undefined): void => {
    if (key === undefined) {
      void resumeAll().catch((err: unknown) =>
        log.warn({ err: errorMessage(err) }, 'resume: listing keys failed'),
      );
      return;
    }
    for (const c of p.controllers) c.controller.enqueue(key);
  };
  let nodeAnnotated = false;
  const loader: SyncingRunnable & { synced: Promise<void> } = (() => {
    let ready!: () => void;
    const synced = new Promise<void>((r) => (ready = r));
    return {
      name: 'suspend-state',
      synced,
      start: async (signal: AbortSignal) => {
        await state.load();
        log.info({ file: state.path, node: state.node, objects: state.objects() }, 'suspend state loaded');
        const subs = [
          state.changes$.subscribe((c) => {
            log.info(
              { key: c.key ?? `Node/${p.settings.node}`, suspended: c.suspended },
              c.suspended ? 'suspended' : 'resumed',
            );
            if (!c.suspended) resume(c.key);
          }),
          // The annotation on the Node: resuming it in Git re-enqueues everything.
          p.store.watch({ kinds: ['Node'] }).subscribe((ev) => {
            if (ev.object.metadata.name !== p.settings.node) return;
            const now = annotatedSuspended(ev.object);
            if (nodeAnnotated && !now) resume(undefined);
            nodeAnnotated = now;
          }),
        ];
        ready();
        await new Promise<void>((r) =>
          signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
        );
        for (const s of subs) s.unsubscribe();
      },
    };
  })();
  return {
    state,
    loader,
    backend: (inner, diff) => {
      const wrapped = withSuspension(inner, { state, nodeName: p.settings.node, node });
      return {
        ...wrapped,
        diff: (req) =>
          diffTree(req, {
            ...diff,
            current: () =>
              ['Deployment', 'Service', 'ServiceGraph'].flatMap(
                (k) => p.store.list(k) as unknown as ApiObject[],
              ),
            suspended: (key, next) => state.suspendedBy(key, next, node()) !== undefined,
          }),
      };
    },
  };
}

/** Every Deployment key: in the store, and owning a container (so a resume prunes too). */
export async function deploymentKeys(
  store: Store,
  engine: Pick<ContainerEngine, 'listContainers'>,
  nodeName: string,
): Promise<string[]> {
  const keys = new Set(store.list('Deployment').map((o) => objectKey('Deployment', o.metadata.name)));
  for (const k of await managedDeploymentKeys(engine, nodeName)) keys.add(k);
  return [...keys];
}

/** Store keys of `kind`. */
export function storeKeys(store: Store, kind: string): () => Promise<string[]> {
  return () => Promise.resolve(store.list(kind).map((o) => objectKey(kind, o.metadata.name)));
}

/**
 * The webhook receiver as a runnable of the servers group, or undefined when no address is set.
 * The secret file is read at start: a missing or empty file fails the agent with its path.
 */
export function webhookRunnable(p: {
  settings: AgentSettings;
  poll: () => Promise<unknown>;
  branch: () => string;
  registry: Registry;
  logger: Logger;
}): (SyncingRunnable & { receiver: () => WebhookReceiver | undefined }) | undefined {
  const { webhookAddress, webhookSecretFile } = p.settings;
  if (webhookAddress === undefined || webhookSecretFile === undefined) return undefined;
  let ready!: () => void;
  const synced = new Promise<void>((r) => (ready = r));
  let receiver: WebhookReceiver | undefined;
  return {
    name: 'webhook-receiver',
    synced,
    receiver: () => receiver,
    start: async (signal) => {
      let secret: string;
      try {
        secret = (await readFile(webhookSecretFile, 'utf8')).trim();
      } catch (err) {
        throw new OrunError(
          'webhook.secret_file',
          `webhook: read secret ${webhookSecretFile}: ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      }
      if (secret === '')
        throw new OrunError('webhook.secret_file', `webhook: secret file ${webhookSecretFile} is empty`);
      receiver = new WebhookReceiver({
        address: webhookAddress,
        secret,
        poll: p.poll,
        branch: p.branch,
        registry: p.registry,
        logger: p.logger,
      });
      const running = receiver.start(signal);
      await Promise.race([receiver.synced, running]);
      ready();
      await running;
    },
  };
}
