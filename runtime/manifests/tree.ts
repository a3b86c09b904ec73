/**
 * Reading a manifest repository from a commit's tree (runtime/git RevisionFiles) instead of a
 * directory: the same files as `loadManifestRepo` (*.yaml / *.yml under the kind directories, no
 * dot segment), decoded the same way, but listed and read from Git's object store in two git
 * processes. A symbolic link is an error of that file and is never read (nothing outside the
 * repository is reachable); a submodule is skipped like any non-file; a file over the size limit
 * is an error without its blob being read.
 */
import {
  DEFAULT_MANIFEST_LIMITS,
  type ManifestLimits,
  ManifestError,
  type Locator,
  tooLarge,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { OrunError } from '../../apis/errors.ts';
import {
  MANIFEST_DIRS,
  type ManifestFile,
  type ManifestRepo,
  assembleRepo,
  isManifestPath,
  REPO_LIMIT,
  symlinkError,
} from './load.ts';
import { LoadDecoder, WORKER_MIN_BYTES, type WorkerScript } from './decoder.ts';

/** One entry of a commit's tree, as runtime/git's `TreeEntry`. */
export interface TreeFile {
  path: string;
  kind: 'file' | 'symlink' | 'submodule';
  /** Bytes of the blob. */
  size: number;
}

/** A commit's files (runtime/git `RevisionFiles` satisfies it). */
export interface ManifestTree<E extends TreeFile = TreeFile> {
  readonly commit: string;
  /** Every entry under `paths`, recursively, sorted by path. */
  list(paths: readonly string[]): Promise<E[]>;
  /** Contents of regular files by path. */
  read(entries: readonly E[]): Promise<Map<string, Buffer>>;
}

export interface TreeLoadOptions {
  /** Size limits (per file and in all). Default: DEFAULT_MANIFEST_LIMITS. */
  limits?: Partial<ManifestLimits>;
  /** More repo-relative paths to read beside the manifests (e.g. `secrets.yaml`); see `texts`. */
  extraPaths?: readonly string[];
  /**
   * Aborted when the load is no longer wanted (a newer commit): checked before each file is
   * decoded, and the load then throws `manifests.superseded`, so no half-decoded revision is
   * returned; a decode in the worker thread is cut short (the worker is terminated). Default: none.
   */
  signal?: AbortSignal;
  /**
   * Files of at least this many UTF-16 units are decoded in a worker thread started for this load
   * (decoder.ts), so the event loop is never blocked long. Default: WORKER_MIN_BYTES (8 KiB);
   * Infinity: every file on the calling thread.
   */
  workerMinBytes?: number;
  /** The worker's code. Default: decoder.ts `decodeWorkerScript()`. */
  workerScript?: WorkerScript;
}

export interface TreeRepo extends ManifestRepo {
  /** The text of every file read (manifests and extra paths), by path; SOPS files are decrypted from it. */
  texts: Map<string, string>;
  /** How many files were decoded in the worker thread. */
  decodedInWorker: number;
  /** Set when the decode worker failed: the rest of the load was decoded on the calling thread. */
  workerError?: unknown;
}

/**
 * Decodes every manifest file of a commit's tree. Rejects only when the tree cannot be listed or
 * read at all (a git failure); every per-file problem is an error of that file.
 *
 * @example
 * const repo = await loadManifestTree(revision.files);
 * for (const f of repo.files) if (f.errors.length > 0) keepLastGood(f.path);
 */
export async function loadManifestTree<E extends TreeFile>(
  tree: ManifestTree<E>,
  options: TreeLoadOptions = {},
): Promise<TreeRepo> {
  const limits = { ...DEFAULT_MANIFEST_LIMITS, ...options.limits };
  const extra = options.extraPaths ?? [];
  const entries = await tree.list([...MANIFEST_DIRS, ...extra]);
  // A kind directory committed as a symlink (`services -> /etc`) is an error of that path, as
  // `orun validate` reports it; its target is never listed.
  const manifests = entries.filter(
    (e) =>
      (isManifestPath(e.path) && e.kind !== 'submodule') ||
      (e.kind === 'symlink' && MANIFEST_DIRS.includes(e.path)),
  );

  const problems = new Map<string, ManifestError>();
  const toRead: E[] = [];
  // Over the repository's limit, no file is parsed (each keeps its last good objects), whatever
  // order the files sort in: as `orun validate` reads a directory (load.ts).
  const total = manifests.reduce((n, e) => n + (e.kind === 'file' ? e.size : 0), 0);
  for (const e of manifests) {
    if (e.kind === 'symlink') {
      problems.set(e.path, symlinkError(e.path));
    } else if (total > limits.maxRepoBytes) {
      problems.set(e.path, tooLarge(e.path, total, limits.maxRepoBytes, REPO_LIMIT));
    } else if (e.size > limits.maxFileBytes) {
      problems.set(e.path, tooLarge(e.path, e.size, limits.maxFileBytes));
    } else {
      toRead.push(e);
    }
  }
  for (const e of entries) {
    if (extra.includes(e.path) && e.kind === 'file' && e.size <= limits.maxFileBytes) toRead.push(e);
  }
  const blobs = await tree.read(toRead);
  const texts = new Map<string, string>();
  for (const [path, data] of blobs) texts.set(path, data.toString('utf8'));

  const { loaded, decoder } = await decodeFiles(tree.commit, manifests, problems, texts, limits, options);
  const repo: TreeRepo = { ...assembleRepo(loaded), texts, decodedInWorker: decoder.decodedInWorker };
  if (decoder.workerError !== undefined) repo.workerError = decoder.workerError;
  return repo;
}

/**
 * Each manifest decoded in path order (or its problem), one file at a time: a large one in the
 * worker thread, a small one here after a turn of the event loop, so /healthz and the local API
 * are answered while a large revision loads; a newer commit cuts the load short.
 */
async function decodeFiles(
  commit: string,
  manifests: readonly TreeFile[],
  problems: ReadonlyMap<string, ManifestError>,
  texts: ReadonlyMap<string, string>,
  limits: ManifestLimits,
  options: TreeLoadOptions,
): Promise<{ loaded: { file: ManifestFile; locate: Locator }[]; decoder: LoadDecoder }> {
  const decoder = new LoadDecoder({
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    workerMinBytes: options.workerMinBytes ?? WORKER_MIN_BYTES,
    ...(options.workerScript === undefined ? {} : { script: options.workerScript }),
  });
  const loaded: { file: ManifestFile; locate: Locator }[] = [];
  try {
    for (const e of manifests) {
      const problem = problems.get(e.path);
      if (problem !== undefined) {
        loaded.push({
          file: { path: e.path, objects: [], errors: [problem], warnings: [] },
          locate: () => undefined,
        });
        continue;
      }
      if (options.signal?.aborted) throw superseded(commit);
      const decoded = await decoder
        .decode(e.path, texts.get(e.path) ?? '', { commit, maxBytes: limits.maxFileBytes })
        .catch((err: unknown) => {
          throw options.signal?.aborted ? superseded(commit) : err;
        });
      const { objects, errors, warnings } = decoded;
      loaded.push({ file: { path: e.path, objects, errors, warnings }, locate: decoded.locate });
    }
  } finally {
    await decoder.close();
  }
  return { loaded, decoder };
}

function superseded(commit: string): OrunError {
  return new OrunError('manifests.superseded', `manifests: load ${commit}: superseded`, {
    context: { commit },
  });
}
