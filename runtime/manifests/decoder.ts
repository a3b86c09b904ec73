/**
 * Decoding a revision's files without blocking the event loop for long. Decoding a manifest is
 * synchronous (the YAML library, then the schema) and costs about 1–4 ms per KiB, so a file at the
 * 1 MiB limit would stop /healthz, the local API and every controller for seconds. A file of at
 * least `workerMinBytes` is decoded in a worker thread instead: started at the first such file of
 * a load, ended when the load ends (an idle agent keeps no worker), terminated at once when the
 * load's signal aborts (a newer commit). Smaller files are decoded on the calling thread, with a
 * turn of the event loop before each.
 *
 * The worker runs the same `decodeManifestFile` as `orun validate`; its result crosses a structured
 * clone as plain data (apis `toDecodedData`) and is rebuilt here (`fromDecodedData`: the same
 * ManifestErrors, a locator over the same field positions), so both report the same errors. If the
 * worker cannot start or dies, the rest of the load is decoded on the calling thread and the
 * error is kept (`workerError`) for the caller to log.
 */
import { Worker } from 'node:worker_threads';
import { OrunError } from '../../apis/errors.ts';
import {
  type DecodeOptions,
  type DecodeResult,
  type DecodedData,
  decodeManifestFile,
  fromDecodedData,
} from '../../apis/run.orcra.dev/v0alpha/decode.ts';

/** Files of this many bytes or more are decoded in the worker (8 KiB: at most ~50 ms on the event loop otherwise). */
export const WORKER_MIN_BYTES = 8 * 1024;

/** What the worker is asked (decode-worker.ts). */
export interface DecodeRequest {
  id: number;
  path: string;
  text: string;
  options: DecodeOptions;
}

/** What the worker answers. */
export interface DecodeReply {
  id: number;
  data: DecodedData;
}

export interface DecoderOptions {
  /** Aborts the load: the worker is terminated, and pending and later decodes reject with `manifests.superseded`. */
  signal?: AbortSignal;
  /** Files with at least this many UTF-16 units go to the worker. Default WORKER_MIN_BYTES; Infinity: never. */
  workerMinBytes?: number;
  /** Where the worker's code comes from. Default: `decodeWorkerScript()`. */
  script?: WorkerScript;
}

/** A worker's code: a file, or (inside the single executable) its text. */
export interface WorkerScript {
  filename: string | URL;
  eval: boolean;
}

/**
 * The decode worker's code. Inside the single executable: its embedded asset `decode-worker.cjs`
 * (hack/dist.ts), run with `eval`. From a bundle (dist/orun.cjs): dist/decode-worker.cjs beside
 * it (hack/build.ts). From source: decode-worker.ts beside this module.
 */
export function decodeWorkerScript(): WorkerScript {
  const sea = process.getBuiltinModule('node:sea');
  if (sea?.isSea()) return { filename: sea.getAsset('decode-worker.cjs', 'utf8'), eval: true };
  const self = import.meta.url;
  return {
    filename: new URL(self.endsWith('.ts') ? './decode-worker.ts' : './decode-worker.cjs', self),
    eval: false,
  };
}

interface Pending {
  resolve: (r: DecodeResult) => void;
  reject: (err: unknown) => void;
  request: DecodeRequest;
}

/**
 * Decodes the files of one load (see the module comment). Call `close()` when the load ends.
 *
 * @example
 * const decoder = new LoadDecoder({ signal });
 * try { for (const f of files) results.push(await decoder.decode(f.path, f.text, { commit })); }
 * finally { await decoder.close(); }
 */
export class LoadDecoder {
  readonly #o: DecoderOptions;
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #workerError: unknown;
  #inWorkerCount = 0;
  #onAbort = (): void => this.#abort();

  constructor(options: DecoderOptions = {}) {
    this.#o = options;
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Why the worker failed (the load went on on the calling thread); undefined when it did not. */
  get workerError(): unknown {
    return this.#workerError;
  }

  /** How many files the worker decoded. */
  get decodedInWorker(): number {
    return this.#inWorkerCount;
  }

  /** True while a worker thread is running. */
  get workerRunning(): boolean {
    return this.#worker !== undefined;
  }

  async decode(path: string, text: string, options: DecodeOptions = {}): Promise<DecodeResult> {
    this.#throwIfAborted();
    const min = this.#o.workerMinBytes ?? WORKER_MIN_BYTES;
    if (text.length >= min && this.#workerError === undefined) {
      try {
        const result = await this.#inWorker({ id: this.#nextId++, path, text, options });
        this.#inWorkerCount++;
        return result;
      } catch (err) {
        this.#throwIfAborted();
        this.#workerError = err;
        await this.close();
      }
    }
    // A turn of the event loop first: answers queued meanwhile go out between two decodes.
    await new Promise<void>((r) => setImmediate(r));
    this.#throwIfAborted();
    return decodeManifestFile(path, text, options);
  }

  /** Ends the worker (if one runs); the decoder can still decode on the calling thread. */
  async close(): Promise<void> {
    this.#o.signal?.removeEventListener('abort', this.#onAbort);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #inWorker(request: DecodeRequest): Promise<DecodeResult> {
    const worker = this.#worker ?? this.#start();
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject, request });
      worker.postMessage(request);
    });
  }

  #start(): Worker {
    const script = this.#o.script ?? decodeWorkerScript();
    const worker = new Worker(script.filename, { eval: script.eval, stdout: false, stderr: false });
    worker.on('message', (reply: DecodeReply) => {
      const p = this.#pending.get(reply.id);
      if (p === undefined) return;
      this.#pending.delete(reply.id);
      // A reply that cannot be rebuilt is a failed worker, not an exception out of this listener
      // (it would end the agent): the load decodes that file on the main thread, as after a crash.
      try {
        p.resolve(fromDecodedData(p.request.path, reply.data));
      } catch (err) {
        p.reject(
          new OrunError(
            'manifests.decode_worker_reply',
            'manifests: the decode worker sent a reply that cannot be read',
            {
              cause: err,
              context: { path: p.request.path },
            },
          ),
        );
      }
    });
    const fail = (err: unknown): void => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) =>
      fail(
        new OrunError('manifests.decode_worker_exited', `manifests: decode worker exited (${code})`, {
          context: { code },
        }),
      ),
    );
    this.#worker = worker;
    return worker;
  }

  #abort(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    const err = this.#superseded();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    void worker?.terminate();
  }

  #throwIfAborted(): void {
    if (this.#o.signal?.aborted) throw this.#superseded();
  }

  #superseded(): OrunError {
    return new OrunError('manifests.superseded', 'manifests: load superseded', {});
  }
}
