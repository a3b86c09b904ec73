/**
 * Runs Debian's caddy (2.6.2) as a child process and keeps it running: `caddy run --config
 * <dataDir>/caddy/bootstrap.json`, whose only content is the admin endpoint (a unix socket) and
 * the storage directory, so Caddy starts with no servers and orun loads the real config over the
 * admin API. Certificates and ACME accounts live in `<dataDir>/caddy/storage` and survive restarts
 * (a re-issue on every restart would hit Let's Encrypt's rate limits).
 *
 * - A crash restarts Caddy with exponential back-off; once its admin socket answers, the last
 *   config it accepted is loaded again, before any other load, and `onReady` listeners run.
 * - Abort → SIGTERM (Caddy stops gracefully) → SIGKILL after `stopTimeoutMs`.
 * - A Caddy left running by a previous orun (same socket) is asked to stop first (POST /stop).
 * - It is the CaddyAdmin orun uses: `load` stamps the admin and storage blocks into every config
 *   (a config without them would move the admin endpoint to TCP :2019) and remembers the last
 *   good one. Loads are serialised.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Counter, Gauge, type Registry } from 'prom-client';
import { OrunError, errorMessage } from '../../apis/errors.ts';
import { realClock, type Clock } from '../clock/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { CaddyAdminClient, CaddyErrorCode, type CaddyAdmin } from './admin.ts';
import { adminBlock, HTTP_SERVER, type CaddyConfig } from './config.ts';

export interface RestartBackoff {
  /** First delay after a crash. Default 1000 ms. */
  initialMs: number;
  /** Delays double up to this. Default 30 000 ms. */
  maxMs: number;
  /** A run that lasted this long resets the delay to `initialMs`. Default 60 000 ms. */
  resetAfterMs: number;
}

export interface CaddySupervisorOptions {
  /** orun's data dir (Node `dataDir`). Caddy's files go to `<dataDir>/caddy/`. Required. */
  dataDir: string;
  /** The caddy binary. Default `caddy` (from PATH). */
  caddyPath?: string;
  /** Default: the real clock. */
  clock?: Clock;
  /**
   * Caddy's own JSON log lines are passed through here (field `component: caddy`): warn and above
   * at their level, the rest at debug. Default: silent.
   */
  logger?: Logger;
  /** Default {@link DEFAULT_RESTART_BACKOFF}. */
  restartBackoff?: RestartBackoff;
  /** SIGTERM → SIGKILL grace on stop. Default 10 000 ms. */
  stopTimeoutMs?: number;
  /** From spawn until the admin socket answers and the last config is loaded again. Default 15 000 ms. */
  startTimeoutMs?: number;
  /** `orun_caddy_up` and `orun_caddy_restarts_total` are registered here. Default: none. */
  registry?: Registry;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = {
  initialMs: 1000,
  maxMs: 30_000,
  resetAfterMs: 60_000,
};

/** Where the supervisor keeps Caddy's files. */
export interface CaddyPaths {
  dir: string;
  socket: string;
  bootstrap: string;
  storage: string;
}

export function caddyPaths(dataDir: string): CaddyPaths {
  const dir = join(dataDir, 'caddy');
  return {
    dir,
    socket: join(dir, 'admin.sock'),
    bootstrap: join(dir, 'bootstrap.json'),
    storage: join(dir, 'storage'),
  };
}

/** The delay before restart number `failures` (0-based). */
export function restartDelay(b: RestartBackoff, failures: number): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(failures, 30));
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;
const PING_INTERVAL_MS = 50;
const STDERR_TAIL = 20;

type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

export class CaddySupervisor implements CaddyAdmin {
  readonly name = 'caddy';
  readonly paths: CaddyPaths;
  readonly #o: Required<Omit<CaddySupervisorOptions, 'registry' | 'logger'>>;
  readonly #log: Logger;
  readonly #client: CaddyAdminClient;
  readonly #metrics: { up: Gauge; restarts: Counter } | undefined;
  readonly #listeners = new Set<() => void>();
  #child: ChildProcess | undefined;
  #up = false;
  #lastGood: CaddyConfig | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #started = false;
  #resolveSynced!: () => void;
  /** Resolves the first time Caddy is up (for the manager's `synced`). */
  readonly synced: Promise<void> = new Promise((r) => (this.#resolveSynced = r));

  constructor(o: CaddySupervisorOptions) {
    this.paths = caddyPaths(o.dataDir);
    if (Buffer.byteLength(this.paths.socket) > MAX_SOCKET_PATH)
      throw new OrunError(
        'caddy.invalid_config',
        `caddy: admin socket path ${this.paths.socket} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter dataDir`,
      );
    this.#o = {
      dataDir: o.dataDir,
      caddyPath: o.caddyPath ?? 'caddy',
      clock: o.clock ?? realClock,
      restartBackoff: o.restartBackoff ?? DEFAULT_RESTART_BACKOFF,
      stopTimeoutMs: o.stopTimeoutMs ?? 10_000,
      startTimeoutMs: o.startTimeoutMs ?? 15_000,
    };
    this.#log = (o.logger ?? silentLogger()).child({ component: 'caddy' });
    this.#client = new CaddyAdminClient({ socketPath: this.paths.socket });
    this.#metrics = o.registry === undefined ? undefined : supervisorMetrics(o.registry);
  }

  /** True while Caddy runs and has the last good config loaded. */
  isUp(): boolean {
    return this.#up;
  }

  /** A readiness check (runtime/manager Checker): throws while Caddy is down. */
  readonly check = (): void => {
    if (!this.#up) throw new Error('caddy is not running');
  };

  /** The child's pid while one runs (tests use it to simulate a crash). */
  pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The config Caddy last accepted (stamped), re-applied after a restart. */
  lastGoodConfig(): CaddyConfig | undefined {
    return this.#lastGood === undefined ? undefined : structuredClone(this.#lastGood);
  }

  /** Runs `listener` every time Caddy is (re)started with the last good config. Returns an unsubscribe. */
  onReady(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Loads `config` with this supervisor's admin and storage blocks. Rejects
   * `caddy.unavailable` while Caddy is down (it restarts on its own; retry later) and
   * `caddy.config_rejected` with Caddy's message, in which case the old config keeps running.
   */
  load(config: CaddyConfig, signal?: AbortSignal): Promise<void> {
    const stamped = this.#stamp(config);
    return this.#serial(async () => {
      if (!this.#up)
        throw new OrunError(
          CaddyErrorCode.Unavailable,
          'caddy: load config: caddy is not running (restarting)',
          {
            context: { socketPath: this.paths.socket },
          },
        );
      await this.#client.load(stamped, signal);
      this.#lastGood = stamped;
    });
  }

  config(signal?: AbortSignal): Promise<CaddyConfig | null> {
    return this.#client.config(signal);
  }

  /** Runs Caddy until `signal` aborts; then stops it (SIGTERM, SIGKILL after the grace) and resolves. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new OrunError('caddy.already_started', 'caddy: start: already started');
    this.#started = true;
    await this.#prepare();
    await this.#stopOrphan(signal);
    let failures = 0;
    while (!signal.aborted) {
      const began = this.#o.clock.now();
      const exit = await this.#runOnce(signal);
      if (signal.aborted) break;
      if (this.#o.clock.now() - began >= this.#o.restartBackoff.resetAfterMs) failures = 0;
      const delay = restartDelay(this.#o.restartBackoff, failures++);
      this.#metrics?.restarts.inc();
      this.#log.error(
        { exitCode: exit.code, exitSignal: exit.signal, err: exit.error?.message, restartInMs: delay },
        'caddy exited; restarting',
      );
      await this.#o.clock.sleep(delay, signal);
    }
    this.#log.info({}, 'caddy supervisor stopped');
  }

  async #prepare(): Promise<void> {
    await mkdir(this.paths.storage, { recursive: true, mode: 0o700 });
    const bootstrap = this.#stamp({});
    await writeFile(this.paths.bootstrap, `${JSON.stringify(bootstrap, null, 2)}\n`, { mode: 0o600 });
  }

  #stamp(config: CaddyConfig): CaddyConfig {
    return {
      ...config,
      admin: adminBlock(`unix/${this.paths.socket}`),
      storage: { module: 'file_system', root: this.paths.storage },
    };
  }

  /** A Caddy from a previous orun still owns the socket (and ports): ask it to stop. */
  async #stopOrphan(signal: AbortSignal): Promise<void> {
    try {
      await this.#client.ping(signal);
    } catch {
      return; // nobody there: the usual case
    }
    this.#log.warn({ socket: this.paths.socket }, 'stopping a caddy left running by a previous orun');
    try {
      await this.#client.stop(signal);
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, 'stopping the old caddy failed');
    }
    const deadline = this.#o.clock.now() + this.#o.stopTimeoutMs;
    while (!signal.aborted && this.#o.clock.now() < deadline) {
      try {
        await this.#client.ping(signal);
      } catch {
        return;
      }
      await this.#o.clock.sleep(PING_INTERVAL_MS, signal);
    }
  }

  /** One Caddy process: spawn, wait until up, re-apply, wait for exit or abort. */
  async #runOnce(signal: AbortSignal): Promise<Exit> {
    const tail: string[] = [];
    const child = spawn(this.#o.caddyPath, ['run', '--config', this.paths.bootstrap], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_DATA_HOME: this.paths.dir, XDG_CONFIG_HOME: this.paths.dir },
    });
    this.#child = child;
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, sig) => resolve({ code, signal: sig }));
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        tail.push(line);
        if (tail.length > STDERR_TAIL) tail.shift();
        this.#passLog(line);
      });
    }
    let done: Exit | undefined;
    void exited.then((e) => (done = e));

    const up = await this.#waitUp(signal, () => done !== undefined);
    if (up) {
      this.#log.info({ pid: child.pid }, 'caddy is up');
      this.#metrics?.up.set(1);
      this.#resolveSynced();
      for (const l of this.#listeners) {
        try {
          l();
        } catch (err) {
          this.#log.error({ err: errorMessage(err) }, 'caddy onReady listener failed');
        }
      }
      await untilAbort(exited, signal);
    }
    this.#up = false;
    this.#metrics?.up.set(0);
    if (done === undefined) await this.#stop(child, exited, signal.aborted ? 'stopping' : 'not up in time');
    this.#child = undefined;
    const exit = await exited;
    return exit.error || tail.length === 0 ? exit : { ...exit, error: new Error(tail.join('\n')) };
  }

  /**
   * Polls the admin socket until it answers, then loads the last good config (under the load
   * lock, so no other load runs first). If Caddy now refuses it (say a port was taken meanwhile),
   * Caddy stays up without routes and the listeners re-apply: their error is then reported
   * where a person looks (Service status), instead of a silent restart loop.
   */
  async #waitUp(signal: AbortSignal, exited: () => boolean): Promise<boolean> {
    const deadline = this.#o.clock.now() + this.#o.startTimeoutMs;
    while (!signal.aborted && !exited() && this.#o.clock.now() < deadline) {
      try {
        await this.#client.ping(signal);
        return await this.#serial(async () => {
          await this.#reapply(signal);
          this.#up = true;
          return true;
        });
      } catch {
        // not up yet
      }
      await this.#o.clock.sleep(PING_INTERVAL_MS, signal);
    }
    if (!signal.aborted && !exited())
      this.#log.error(
        { startTimeoutMs: this.#o.startTimeoutMs },
        'caddy admin endpoint did not come up in time',
      );
    return false;
  }

  async #reapply(signal: AbortSignal): Promise<void> {
    if (this.#lastGood === undefined) return;
    try {
      await this.#client.load(this.#lastGood, signal);
    } catch (err) {
      if (!(err instanceof OrunError && err.code === CaddyErrorCode.ConfigRejected)) throw err;
      this.#log.error({ err: errorMessage(err) }, 'caddy refused the last good config after a restart');
      this.#lastGood = undefined;
    }
  }

  async #stop(child: ChildProcess, exited: Promise<Exit>, why: string): Promise<void> {
    this.#log.info({ pid: child.pid, why }, 'stopping caddy');
    child.kill('SIGTERM');
    const timeout = new AbortController();
    const stopped = await Promise.race([
      exited.then(() => true),
      this.#o.clock.sleep(this.#o.stopTimeoutMs, timeout.signal).then(() => false),
    ]);
    timeout.abort();
    if (!stopped) {
      this.#log.warn(
        { pid: child.pid, stopTimeoutMs: this.#o.stopTimeoutMs },
        'caddy ignored SIGTERM; killing it',
      );
      child.kill('SIGKILL');
    }
  }

  /**
   * Caddy logs JSON lines. Warnings and errors are passed on at their level; the rest (several
   * info lines per config load) at debug, so a rollout does not flood the agent's log. Each key
   * appears once: Caddy's own `logger` becomes `caddyLogger`, and a Caddy field named like one
   * of ours (`component`) is dropped rather than repeated.
   */
  #passLog(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.#log.debug({ line }, 'caddy output');
      return;
    }
    const { level: _level, msg, ts: _ts, logger, component: _component, ...fields } = entry;
    const message = typeof msg === 'string' ? msg : 'caddy log';
    const f = { caddyLogger: logger, ...fields };
    const level = caddyLineLevel(entry);
    if (level === 'error') this.#log.error(f, message);
    else if (level === 'warn') this.#log.warn(f, message);
    else this.#log.debug(f, message);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

/**
 * The agent's level for one of Caddy's JSON log lines: warn and above keep theirs, the rest is
 * debug. Two lines Caddy 2.6.2 writes at every config load in orun's normal use are debug too,
 * so a deploy leaves no WARN or ERROR behind:
 * - `automatic HTTPS is completely disabled for server` (WARN) for `orun-http`, which orun
 *   configures so on purpose (the other choice, no setting, gives a WARN of its own);
 * - `server shutdown` with `context canceled` (ERROR): on a reload Caddy's App.Stop cancels the
 *   old servers' grace context as it returns, without waiting for them (it waits only when the
 *   process exits); requests in flight on the old server still finish.
 * Caddy's lines carry no code, so these are told by logger, server and message.
 */
export function caddyLineLevel(entry: Record<string, unknown>): 'error' | 'warn' | 'debug' {
  const { level, logger, msg } = entry;
  if (
    logger === 'http' &&
    level === 'warn' &&
    entry.server_name === HTTP_SERVER &&
    msg === 'automatic HTTPS is completely disabled for server'
  )
    return 'debug';
  if (
    logger === 'http' &&
    level === 'error' &&
    msg === 'server shutdown' &&
    entry.error === 'context canceled'
  )
    return 'debug';
  if (level === 'error' || level === 'fatal' || level === 'panic') return 'error';
  return level === 'warn' ? 'warn' : 'debug';
}

/** Resolves when `p` settles or `signal` aborts; the abort listener is removed either way. */
async function untilAbort(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  await Promise.race([p, aborted]);
  if (onAbort) signal.removeEventListener('abort', onAbort);
}

function supervisorMetrics(registry: Registry): { up: Gauge; restarts: Counter } {
  const reuse = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    up: reuse(
      'orun_caddy_up',
      () =>
        new Gauge({
          name: 'orun_caddy_up',
          help: '1 while the supervised Caddy runs.',
          registers: [registry],
        }),
    ),
    restarts: reuse(
      'orun_caddy_restarts_total',
      () =>
        new Counter({
          name: 'orun_caddy_restarts_total',
          help: 'Restarts of the supervised Caddy after it exited.',
          registers: [registry],
        }),
    ),
  };
}

/** `new CaddySupervisor(options)`: add it to the manager's `servers` group and pass it as the controller's `caddy`. */
export function newCaddySupervisor(o: CaddySupervisorOptions): CaddySupervisor {
  return new CaddySupervisor(o);
}
