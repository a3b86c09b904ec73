/**
 * The gate in front of a supervised Caddy (`orun start --ingress caddy`):
 *
 * - The agent never waits for Caddy: the runnable has no `synced`. A node whose Caddy is down
 *   (or not installed) still syncs Git and runs containers; loads fail with `CaddyUnavailable`
 *   (Services say `IngressUnavailable`) and `orun_caddy_up` is 0.
 * - A missing caddy binary is named (logs and each load's error), instead of Caddy's bare
 *   "spawn caddy ENOENT"; the supervisor keeps retrying, so installing caddy is enough.
 * - Caddy binds with SO_REUSEPORT, so a second server on the HTTP port (another orun's Caddy, a
 *   web server) would not make its load fail: the kernel would split the requests between them.
 *   So Caddy starts only once the HTTP port is free (checked every `portRetryMs`; a Caddy of a
 *   previous orun on our socket is no obstacle, the supervisor stops it); until then loads fail
 *   naming the port. A busy HTTPS port is logged (it matters only for ssl).
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import type { Clock } from '../clock/index.ts';
import type { Logger } from '../log/index.ts';
import type { Runnable } from '../manager/index.ts';
import { CaddyAdminClient, CaddyErrorCode } from './admin.ts';
import type { CaddyConfig } from './config.ts';
import type { CaddySupervisor } from './supervisor.ts';

export interface CaddyGateOptions {
  supervisor: CaddySupervisor;
  /** The caddy binary, as configured (a path, or a name searched on $PATH). */
  caddyPath: string;
  httpPort: number;
  httpsPort: number;
  clock: Clock;
  logger: Logger;
  /** How often a taken HTTP port is checked again. Default 5000 ms. */
  portRetryMs?: number;
  /** Where the kernel shows net.ipv4.tcp_migrate_req. Default `TCP_MIGRATE_REQ_PATH`. */
  tcpMigrateReqPath?: string;
}

/** What the Service controller loads through, and the runnable that starts Caddy. */
export interface GatedCaddy {
  /** The servers-group runnable: waits for the HTTP port, then runs the supervisor. */
  runnable: Runnable;
  load(config: CaddyConfig, signal?: AbortSignal): Promise<void>;
  onReady(listener: () => void): () => void;
}

export function gateCaddy(o: CaddyGateOptions): GatedCaddy {
  const { supervisor, caddyPath, httpPort, httpsPort, clock } = o;
  const log = o.logger.child({ component: 'ingress' });
  const missing = (): OrunError =>
    new OrunError(
      CaddyErrorCode.Unavailable,
      `caddy: load config: the caddy binary "${caddyPath}" was not found; install caddy (Debian: apt-get install caddy), pass --caddy-path, or start orun with --ingress none`,
      { context: { caddyPath } },
    );
  /** Why Caddy is not started yet (the HTTP port is taken), for Service status. */
  let blocked: string | undefined;

  const waitForHttpPort = async (signal: AbortSignal): Promise<void> => {
    while ((await portState(httpPort)) === 'in-use' && !signal.aborted) {
      if (blocked === undefined) {
        blocked = `port ${httpPort} is in use by another program (another orun's Caddy or a web server?); Caddy starts once it is free: stop the other server or pass --http-port`;
        log.error({ httpPort }, blocked);
      }
      await clock.sleep(o.portRetryMs ?? 5000, signal).catch(() => undefined);
    }
    if (blocked !== undefined && !signal.aborted) log.info({ httpPort }, 'HTTP port is free now');
    blocked = undefined;
    if ((await portState(httpsPort)) === 'in-use')
      log.error(
        { httpsPort },
        `port ${httpsPort} is in use by another program: ssl Services would share it (requests split between the two servers); stop it or pass --https-port`,
      );
  };

  return {
    runnable: {
      name: 'caddy',
      start: async (signal) => {
        if (!(await onPath(caddyPath))) log.error({ caddyPath }, missing().message);
        const migrate = await tcpMigrateReq(o.tcpMigrateReqPath);
        if (migrate !== 'on')
          log.warn({ sysctl: 'net.ipv4.tcp_migrate_req', value: migrate }, MIGRATE_REQ_ADVICE[migrate]);
        const previous = new CaddyAdminClient({ socketPath: supervisor.paths.socket });
        const ours = await previous.ping(signal).then(
          () => true,
          () => false,
        );
        if (!ours) await waitForHttpPort(signal);
        if (!signal.aborted) await supervisor.start(signal);
      },
    },
    load: async (config, signal) => {
      if (!supervisor.isUp()) {
        if (!(await onPath(caddyPath))) throw missing();
        if (blocked !== undefined)
          throw new OrunError(CaddyErrorCode.Unavailable, `caddy: load config: ${blocked}`, {
            context: { httpPort },
          });
      }
      return supervisor.load(config, signal);
    },
    onReady: (listener) => supervisor.onReady(listener),
  };
}

export const TCP_MIGRATE_REQ_PATH = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * net.ipv4.tcp_migrate_req (Linux >= 5.14, per network namespace): when 1, a connection queued
 * on a closing SO_REUSEPORT listener moves to another listener of the same port instead of
 * being reset. Every Caddy config load rebinds its listeners (see docs/design/ingress.md), so
 * with 0 a load can reset a connection a client just opened. `unsupported`: no such file.
 */
export async function tcpMigrateReq(path = TCP_MIGRATE_REQ_PATH): Promise<'on' | 'off' | 'unsupported'> {
  try {
    return (await readFile(path, 'utf8')).trim() === '0' ? 'off' : 'on';
  } catch {
    return 'unsupported';
  }
}

const MIGRATE_REQ_ADVICE = {
  off: 'net.ipv4.tcp_migrate_req is 0: a Caddy config load (a Service added or removed, a Deployment ready for the first time, a Recreate, an orun restart) may reset a connection queued on its old listener; set it to 1 (orun bootstrap writes /etc/sysctl.d/60-orun.conf; by hand: sysctl -w net.ipv4.tcp_migrate_req=1). RollingUpdate switches never load a config.',
  unsupported:
    'this kernel has no net.ipv4.tcp_migrate_req (Linux < 5.14): a Caddy config load (a Service added or removed, a Deployment ready for the first time, a Recreate, an orun restart) may reset a connection queued on its old listener. RollingUpdate switches never load a config.',
} as const;

/**
 * Can a plain (no SO_REUSEPORT) listener take `port` on all addresses? `in-use` when another
 * program holds it; `free` also covers "not allowed" (EACCES: the caddy binary may carry
 * cap_net_bind_service, as Debian's does; if not, Caddy's own error reaches Service status).
 */
export function portState(port: number): Promise<'free' | 'in-use'> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' ? 'in-use' : 'free'),
    );
    server.listen({ port, exclusive: true }, () => server.close(() => resolve('free')));
  });
}

/** Whether `cmd` is an executable file: a path as given, a bare name searched on $PATH. */
export async function onPath(cmd: string): Promise<boolean> {
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
