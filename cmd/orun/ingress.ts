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
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Registry } from 'prom-client';
import { OrunError } from '../../apis/errors.ts';
import {
  INGRESS_KEY,
  newServiceController,
  type ServiceController,
} from '../../controllers/service/index.ts';
import {
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
  const caddy = {
    load: async (config: CaddyConfig, signal?: AbortSignal): Promise<void> => {
      if (!supervisor.isUp() && !(await onPath(settings.caddyPath))) throw missing();
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
        await supervisor.start(signal);
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
