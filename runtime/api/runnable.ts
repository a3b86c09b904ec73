import { errorMessage } from '../../apis/errors.ts';
import type { Logger } from '../log/index.ts';
import type { SyncingRunnable } from '../manager/index.ts';
import type { ApiBackend } from './backend.ts';
import type { RedactOptions } from './redact.ts';
import { createApiServer } from './server.ts';
import { listenUnixSocket } from './socket.ts';

/**
 * The local API on its unix socket as a runnable of the manager's servers group: synced once
 * it listens, closed when the signal aborts.
 */
export function apiServerRunnable(
  socketPath: string,
  backend: ApiBackend,
  log: Logger,
  redact: RedactOptions = {},
): SyncingRunnable {
  let ready!: () => void;
  const synced = new Promise<void>((r) => (ready = r));
  return {
    name: 'api-server',
    synced,
    start: async (signal) => {
      const server = createApiServer(backend, {
        redact,
        onError: (err, req) => log.error({ err: errorMessage(err), ...req }, 'local API request failed'),
      });
      const listener = await listenUnixSocket(socketPath, server);
      log.info({ socket: socketPath }, 'local API listening');
      ready();
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
      );
      await listener.close();
    },
  };
}
