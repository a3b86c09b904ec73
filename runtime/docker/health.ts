/**
 * Whether the container engine answers, as the agent tells it: the Node's `RuntimeReady`
 * condition, `/readyz`'s `engine` check, and a reconcile of every Deployment when it comes back.
 *
 * Fed two ways: every call through `monitorEngine(engine, health)` reports its outcome (a
 * `DockerUnavailable` rejection asks for a ping at once, so one dropped connection does not flip
 * the state), and `start(signal)` pings on its own (every `pingIntervalMs` while up, every
 * `downPingIntervalMs` while down), so an outage is seen even when nothing else calls the engine
 * and the return is seen even while every Deployment waits.
 */
import { Subject, type Observable } from 'rxjs';
import { errorMessage, isOrunError, OrunError } from '../../apis/errors.ts';
import type { Clock } from '../clock/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import { DockerErrorCode } from './engine.ts';

/** What the agent knows of the engine. */
export interface EngineHealthView {
  /** Undefined until the first answer (or failure). */
  available: boolean | undefined;
  /** ms since the epoch of the last change of `available`. */
  since?: number;
  /** The engine's version while up; the last error while down. */
  message: string;
}

export interface EngineHealthOptions {
  /** Resolves when the engine answers (ContainerEngine.ping). */
  ping: () => Promise<void>;
  clock: Clock;
  /** Ping period while the engine answers. Default 10 000 ms. */
  pingIntervalMs?: number;
  /** Ping period while it does not (how soon its return is seen). Default 1 000 ms. */
  downPingIntervalMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

export class EngineHealth {
  /** Emits the new view on every change of `available` (not on the first answer). */
  readonly changed$: Observable<EngineHealthView>;
  /** Emits when the engine answers again after an outage. */
  readonly recovered$: Observable<EngineHealthView>;

  readonly #o: EngineHealthOptions;
  readonly #log: Logger;
  readonly #changed = new Subject<EngineHealthView>();
  readonly #recovered = new Subject<EngineHealthView>();
  #view: EngineHealthView = { available: undefined, message: 'not checked yet' };
  #wake: (() => void) | undefined;

  constructor(o: EngineHealthOptions) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'engine-health' });
    this.changed$ = this.#changed.asObservable();
    this.recovered$ = this.#recovered.asObservable();
  }

  status(): EngineHealthView {
    return { ...this.#view };
  }

  /** A call answered: the engine is up. */
  answered(): void {
    if (this.#view.available !== true) this.#set(true, 'the engine answers');
  }

  /** A call failed: when the engine could not be reached, ping now to confirm. */
  failed(err: unknown): void {
    if (isOrunError(err, DockerErrorCode.Unavailable) && this.#view.available !== false) this.#wake?.();
  }

  /** The `/readyz` check: fails while the engine does not answer. */
  readonly check = (): void => {
    if (this.#view.available === false) {
      throw new OrunError(DockerErrorCode.Unavailable, `container engine unavailable: ${this.#view.message}`);
    }
  };

  /** Pings until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const { clock } = this.#o;
    while (!signal.aborted) {
      await this.#pingOnce();
      // Aborted during the ping: the listener below would never fire, and the sleep's timer is
      // unref'd, so with nothing else alive the process would exit 0 in the middle of stopping.
      if (signal.aborted) break;
      const ms =
        this.#view.available === false
          ? (this.#o.downPingIntervalMs ?? 1_000)
          : (this.#o.pingIntervalMs ?? 10_000);
      const woken = new AbortController();
      const onAbort = (): void => woken.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => woken.abort();
      await clock.sleep(ms, woken.signal);
      this.#wake = undefined;
      signal.removeEventListener('abort', onAbort);
    }
    this.#changed.complete();
    this.#recovered.complete();
  }

  async #pingOnce(): Promise<void> {
    try {
      await this.#o.ping();
      this.answered();
    } catch (err) {
      const message = errorMessage(err);
      if (this.#view.available !== false) this.#set(false, message);
      else this.#view = { ...this.#view, message };
    }
  }

  #set(available: boolean, message: string): void {
    const was = this.#view.available;
    this.#view = { available, since: this.#o.clock.now(), message };
    if (was === undefined && available) return;
    if (available) this.#log.info('container engine answers again');
    else
      this.#log.warn({ err: message }, 'container engine unavailable; nothing is changed until it answers');
    this.#changed.next(this.status());
    if (available && was === false) this.#recovered.next(this.status());
  }
}

/**
 * The engine with every call reported to `health` (a resolved promise: answered; a rejection:
 * failed). Async iterables (the event stream) report their failure when they throw.
 */
export function monitorEngine<E extends object>(engine: E, health: EngineHealth): E {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) {
          return out.then(
            (v: unknown) => {
              health.answered();
              return v;
            },
            (err: unknown) => {
              health.failed(err);
              throw err;
            },
          );
        }
        if (isAsyncIterable(out)) return reportFailures(out, health);
        return out;
      };
    },
  });
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

async function* reportFailures<T>(it: AsyncIterable<T>, health: EngineHealth): AsyncGenerator<T> {
  try {
    yield* it;
  } catch (err) {
    health.failed(err);
    throw err;
  }
}
