/**
 * `orun start --ingress caddy`: the supervised Caddy (servers group) and the Service controller
 * (controllers group). See docs/design/ingress.md.
 *
 * - The agent never waits for Caddy: its runnable has no `synced`, and there is no readiness
 *   check for it. A node whose Caddy is down (or not installed) still syncs Git and runs
 *   containers; the Services say `IngressUnavailable` and `orun_caddy_up` is 0.
 * - The Service controller needs the branch the node tracks (main → `domain.default`, others →
 *   `domain.environment`). It is built when the controllers group starts (the Node is in the
 *   store then), and rebuilt when the Node manifest moves the node to another branch.
 * - A missing caddy binary is named in the logs and in each Service's status, instead of
 *   Caddy's bare "spawn caddy ENOENT"; the supervisor keeps retrying, so installing caddy is
 *   enough (no orun restart).
 * - Caddy binds with SO_REUSEPORT, so a second server on the HTTP port (another orun's Caddy, a
 *   web server) does not make its load fail: the kernel would split the requests between them.
 *   So Caddy starts only once the HTTP port is free (checked every 5 s; a Caddy of a previous
 *   orun on our socket is no obstacle, the supervisor stops it); until then Services say
 *   `IngressUnavailable` with the port. A busy HTTPS port is logged (it matters only for ssl).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Registry } from 'prom-client';
import { OrunError } from '../../apis/errors.ts';
import {
  INGRESS_KEY,
  newServiceController,
  type ServiceController,
} from '../../controllers/service/index.ts';
import {
  CaddyAdminClient,
  CaddyErrorCode,
  newCaddySupervisor,
  type AcmeSettings,
  type CaddyConfig,
} from '../../runtime/caddy/index.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import type { EventRecorder } from '../../runtime/events/index.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { Runnable } from '../../runtime/manager/index.ts';
import type { RuntimeMetrics } from '../../runtime/metrics/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { AgentSettings } from './options.ts';

export interface Ingress {
  /** Runs Caddy (servers group). Deliberately without `synced`: nothing waits for Caddy. */
  caddy: Runnable;
  /** Runs the Service controller (controllers group). */
  services: Runnable;
  /** `POST .../services/NAME/reconcile`: every Service maps to the one ingress key. */
  enqueue(): boolean;
  /** The node now tracks `branch` (Node manifest): domains change, so the controller restarts. */
  setBranch(branch: string): void;
}

export interface IngressParts {
  settings: AgentSettings;
  store: Store;
  recorder: EventRecorder;
  clock: Clock;
  registry: Registry;
  metrics: RuntimeMetrics;
  logger: Logger;
  /** The branch the node tracks when the controllers group starts. */
  branch: () => string;
}

export function buildIngress(p: IngressParts): Ingress {
  const { settings, logger } = p;
  const log = logger.child({ component: 'ingress' });
  const supervisor = newCaddySupervisor({
    dataDir: settings.dataDir,
    caddyPath: settings.caddyPath,
    logger,
    registry: p.registry,
  });
  const missing = (): OrunError =>
    new OrunError(
      CaddyErrorCode.Unavailable,
      `caddy: load config: the caddy binary "${settings.caddyPath}" was not found; install caddy (Debian: apt-get install caddy), pass --caddy-path, or start orun with --ingress none`,
      { context: { caddyPath: settings.caddyPath } },
    );
  /** Why Caddy is not started yet (the HTTP port is taken), for Service status. */
  let blocked: string | undefined;
  const caddy = {
    load: async (config: CaddyConfig, signal?: AbortSignal): Promise<void> => {
      if (!supervisor.isUp()) {
        if (!(await onPath(settings.caddyPath))) throw missing();
        if (blocked !== undefined)
          throw new OrunError(CaddyErrorCode.Unavailable, `caddy: load config: ${blocked}`, {
            context: { httpPort: settings.httpPort },
          });
      }
      return supervisor.load(config, signal);
    },
    onReady: (listener: () => void) => supervisor.onReady(listener),
  };
  const acme: AcmeSettings = {
    ca: settings.acmeCa,
    ...(settings.acmeEmail === undefined ? {} : { email: settings.acmeEmail }),
    ...(settings.acmeCaRoot === undefined ? {} : { trustedRootsPemFiles: settings.acmeCaRoot }),
  };

  let branch: string | undefined;
  let controller: ServiceController | undefined;
  let restart: AbortController | undefined;

  const services: Runnable = {
    name: 'service',
    start: async (signal) => {
      branch ??= p.branch();
      while (!signal.aborted) {
        const run = new AbortController();
        const stop = (): void => run.abort();
        signal.addEventListener('abort', stop, { once: true });
        restart = run;
        controller = newServiceController({
          store: p.store,
          caddy,
          events: p.recorder.for('service-controller'),
          clock: p.clock,
          registry: p.registry,
          logger,
          controllerMetrics: p.metrics,
          branch,
          httpPort: settings.httpPort,
          httpsPort: settings.httpsPort,
          acme,
        });
        log.info({ branch, httpPort: settings.httpPort, httpsPort: settings.httpsPort }, 'ingress routing');
        try {
          await controller.start(run.signal);
        } finally {
          signal.removeEventListener('abort', stop);
        }
      }
    },
  };

  return {
    caddy: {
      name: 'caddy',
      start: async (signal) => {
        if (!(await onPath(settings.caddyPath)))
          log.error({ caddyPath: settings.caddyPath }, missing().message);
        const previous = new CaddyAdminClient({ socketPath: supervisor.paths.socket });
        const ours = await previous.ping(signal).then(
          () => true,
          () => false,
        );
        if (!ours) {
          for (;;) {
            const http = await portState(settings.httpPort);
            if (http !== 'in-use' || signal.aborted) break;
            if (blocked === undefined) {
              blocked = `port ${settings.httpPort} is in use by another program (another orun's Caddy or a web server?); Caddy starts once it is free: stop the other server or pass --http-port`;
              log.error({ httpPort: settings.httpPort }, blocked);
            }
            await p.clock.sleep(PORT_RETRY_MS, signal).catch(() => undefined);
          }
          if (blocked !== undefined && !signal.aborted)
            log.info({ httpPort: settings.httpPort }, 'HTTP port is free now');
          blocked = undefined;
          if ((await portState(settings.httpsPort)) === 'in-use')
            log.error(
              { httpsPort: settings.httpsPort },
              `port ${settings.httpsPort} is in use by another program: ssl Services would share it (requests split between the two servers); stop it or pass --https-port`,
            );
        }
        if (!signal.aborted) await supervisor.start(signal);
      },
    },
    services,
    enqueue: () => {
      if (controller === undefined) return false;
      controller.controller.enqueue(INGRESS_KEY);
      return true;
    },
    setBranch: (next) => {
      if (branch === next) return;
      const before = branch;
      branch = next;
      if (before === undefined) return;
      log.info({ from: before, to: next }, 'node branch changed; re-planning Service domains');
      restart?.abort();
    },
  };
}

const PORT_RETRY_MS = 5000;

/**
 * Can a plain (no SO_REUSEPORT) listener take `port` on all addresses? `in-use` when another
 * program holds it; `free` also covers "not allowed" (EACCES: the caddy binary may carry
 * cap_net_bind_service, as Debian's does; if not, Caddy's own error reaches Service status).
 */
function portState(port: number): Promise<'free' | 'in-use'> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' ? 'in-use' : 'free'),
    );
    server.listen({ port, exclusive: true }, () => server.close(() => resolve('free')));
  });
}

/** Whether `cmd` is an executable file: a path as given, a bare name searched on $PATH. */
async function onPath(cmd: string): Promise<boolean> {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}
