/**
 * Suspension (Flux's `spec.suspend`): a suspended object is neither reconciled nor pruned until
 * it is resumed. Three ways to suspend, any one is enough:
 *   - `orunctl suspend deploy/NAME` (or `sg/NAME`): by key, kept in this file;
 *   - `orunctl suspend node`: every object of the node (the Git source keeps polling, so `get`
 *     shows what would change; nothing is applied);
 *   - the annotation `run.orcra.dev/suspend: "true"` on the object in Git (or on the Node).
 *
 * The file `<dataDir>/suspend.json` survives restarts. It is written atomically (temp file,
 * fsync, rename). A file that cannot be read is an error at start, never "nothing suspended":
 * guessing would let a restart prune what an operator froze.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import { SUSPEND_ANNOTATION, objectKey, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';

export const SuspendErrorCode = {
  BadFile: 'suspend.bad_file',
  Write: 'suspend.write',
} as const;

/** The file name under the data dir. */
export const SUSPEND_FILE = 'suspend.json';

/** Who suspended an object: `orunctl` (by key), `node` (the whole node), `annotation` (in Git). */
export type SuspendedBy = 'orunctl' | 'node' | 'annotation';

/** One change of the persisted state: `key` is `Kind/name`, or undefined for the node. */
export interface SuspendChange {
  key: string | undefined;
  suspended: boolean;
}

interface FileShape {
  version: 1;
  node: boolean;
  objects: string[];
}

/** True when `obj` carries `run.orcra.dev/suspend: "true"`. */
export function annotatedSuspended(obj: Pick<ApiObject, 'metadata'> | undefined): boolean {
  return obj?.metadata.annotations?.[SUSPEND_ANNOTATION] === 'true';
}

export class SuspendState {
  readonly path: string;
  readonly #changes = new Subject<SuspendChange>();
  /** Every change made through `set`, after it was written. */
  readonly changes$: Observable<SuspendChange> = this.#changes.asObservable();
  #node = false;
  #objects = new Set<string>();
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** Reads the file; a missing file is "nothing suspended". Throws `suspend.bad_file`. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new OrunError(SuspendErrorCode.BadFile, `suspend: read ${this.path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new OrunError(
        SuspendErrorCode.BadFile,
        `suspend: ${this.path}: not JSON (${errorMessage(err)}); fix or remove it to resume everything`,
        { cause: err },
      );
    }
    const d = doc as Partial<FileShape>;
    if (
      typeof doc !== 'object' ||
      doc === null ||
      typeof d.node !== 'boolean' ||
      !Array.isArray(d.objects) ||
      !d.objects.every((k) => typeof k === 'string' && /^[A-Za-z]+\/.+$/.test(k))
    )
      throw new OrunError(
        SuspendErrorCode.BadFile,
        `suspend: ${this.path}: expected {"version":1,"node":bool,"objects":["Kind/name",…]}`,
      );
    this.#node = d.node;
    this.#objects = new Set(d.objects);
  }

  /** Whether the node as a whole is suspended (by orunctl). */
  get node(): boolean {
    return this.#node;
  }

  /** The keys suspended by orunctl, sorted. */
  objects(): string[] {
    return [...this.#objects].sort();
  }

  /**
   * Why `key` is suspended, if it is: `obj` is its current object (its annotation counts) and
   * `nodeObj` this node's Node (its annotation suspends everything).
   */
  suspendedBy(
    key: string,
    obj?: Pick<ApiObject, 'metadata'>,
    nodeObj?: Pick<ApiObject, 'metadata'>,
  ): SuspendedBy | undefined {
    if (this.#objects.has(key)) return 'orunctl';
    if (annotatedSuspended(obj)) return 'annotation';
    if (this.#node) return 'node';
    if (annotatedSuspended(nodeObj)) return 'annotation';
    return undefined;
  }

  /** Suspends or resumes `kind/name` (kind `Node`: the node); persisted before it resolves. */
  async set(kind: string, name: string, suspended: boolean): Promise<boolean> {
    const key = kind === 'Node' ? undefined : objectKey(kind, name);
    const changed = key === undefined ? this.#node !== suspended : this.#objects.has(key) !== suspended;
    if (key === undefined) this.#node = suspended;
    else if (suspended) this.#objects.add(key);
    else this.#objects.delete(key);
    await this.#write();
    if (changed) this.#changes.next({ key, suspended });
    return changed;
  }

  #write(): Promise<void> {
    const body: FileShape = { version: 1, node: this.#node, objects: this.objects() };
    const text = JSON.stringify(body, null, 2) + '\n';
    // Serialised: two quick calls never interleave their renames.
    this.#writing = this.#writing.catch(() => undefined).then(() => writeAtomic(this.path, text));
    return this.#writing;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    throw new OrunError(SuspendErrorCode.Write, `suspend: write ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
