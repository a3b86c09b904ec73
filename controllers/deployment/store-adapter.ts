/**
 * The runtime Store seen as this controller's {@link DeploymentStore}: read by key, replace the
 * status. A Deployment deleted between read and write is not an error (its DELETED event
 * enqueues the prune).
 */
import { isOrunError } from '../../apis/errors.ts';
import { splitKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { DeploymentStore } from './deps.ts';
import type { DeploymentStatusView, DeploymentView } from './spec.ts';

export function deploymentStoreOf(store: Pick<Store, 'getByKey' | 'updateStatus'>): DeploymentStore {
  return {
    get: (key) => store.getByKey(key) as DeploymentView | undefined,
    updateStatus(key, status) {
      try {
        store.updateStatus<DeploymentStatusView>('Deployment', splitKey(key).name, () => status);
      } catch (err) {
        if (!isOrunError(err, 'store.not_found')) throw err;
      }
    },
  };
}
