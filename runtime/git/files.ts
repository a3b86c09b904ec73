/**
 * The files of one fetched commit, read from the object store: a listing (`git ls-tree`) and the
 * blobs (`git cat-file --batch`). Objects never change, so whatever is fetched or checked out
 * meanwhile, a RevisionFiles reads exactly its commit's tree. Symbolic links and submodules are
 * listed as such and never read through: nothing outside the repository is reachable.
 */
import { OrunError } from '../../apis/errors.ts';
import { GitErrorCode } from './client.ts';
import type { GitClient, TreeEntry } from './client.ts';

export class RevisionFiles {
  readonly commit: string;
  readonly #client: GitClient;
  readonly #dir: string;
  readonly #timed: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(
    client: GitClient,
    dir: string,
    commit: string,
    timed: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {
    this.#client = client;
    this.#dir = dir;
    this.commit = commit;
    this.#timed = timed;
  }

  /** Every entry under `paths` (folders or files, relative to the root), recursively, sorted by path. */
  async list(paths: readonly string[], signal?: AbortSignal): Promise<TreeEntry[]> {
    const entries = await this.#timed(() => this.#client.listTree(this.#dir, this.commit, paths, signal));
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * The contents of regular files by path, in one read. Rejects with `GitReadFailed` when given a
   * symlink or submodule (callers report those per file instead of reading them).
   */
  async read(entries: readonly TreeEntry[], signal?: AbortSignal): Promise<Map<string, Buffer>> {
    for (const e of entries) {
      if (e.kind !== 'file') {
        throw new OrunError(
          GitErrorCode.ReadFailed,
          `git: read ${e.path}: a ${e.kind} is never read through`,
        );
      }
    }
    const blobs = await this.#timed(() =>
      this.#client.readBlobs(
        this.#dir,
        entries.map((e) => e.oid),
        signal,
      ),
    );
    const out = new Map<string, Buffer>();
    for (const e of entries) out.set(e.path, blobs.get(e.oid) ?? Buffer.alloc(0));
    return out;
  }
}
