/**
 * Reading a manifest repository from disk: every *.yaml / *.yml under nodes/, deployments/,
 * services/ and servicegraphs/ (sub-directories included, dot-files skipped), decoded file by file.
 * Results are per file so the agent can keep a file's last good objects when it stops decoding.
 *
 * The repository's boundary holds: a symlinked manifest or kind directory is never read and is
 * an error of that path, as when the agent reads a commit's tree (tree.ts), so `orun validate`
 * and the agent agree; symlinked sub-directories are not followed. Sizes are checked with stat before anything is read: a file over
 * `limits.maxFileBytes` is not read, and a repository whose manifest files total more than
 * `limits.maxRepoBytes` has none of them parsed (every file then keeps its last good objects).
 */
import { lstat, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import {
  type AnyObject,
  KINDS,
  type Locator,
  ManifestError,
  ManifestErrorCode,
  type ManifestLimits,
  DEFAULT_MANIFEST_LIMITS,
  kindDirectories,
  tooLarge,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { LoadDecoder } from './decoder.ts';

export interface LoadOptions {
  /** Commit the checkout is at; source annotations become `<path>@<commit>`. Default: none. */
  commit?: string;
  /** Size limits checked before parsing. Default: DEFAULT_MANIFEST_LIMITS (1 MiB per file, 64 MiB in all). */
  limits?: ManifestLimits;
  /** Aborted when the load is no longer wanted (a newer commit); the load then throws `manifests.superseded`. Default: none. */
  signal?: AbortSignal;
  /**
   * Files of at least this many UTF-16 units are decoded in a worker thread (decoder.ts): what the
   * agent passes (`orun diff` runs in it). Default: Infinity (`orun validate`: all on its own thread).
   */
  workerMinBytes?: number;
}

/** One manifest file's outcome. `errors` non-empty means some document in it did not decode. */
export interface ManifestFile {
  /** Relative to the repository root, `/`-separated. */
  path: string;
  objects: AnyObject[];
  errors: ManifestError[];
  warnings: ManifestError[];
}

export interface ManifestRepo {
  /** Every decoded object, in file order (files sorted by path). */
  objects: AnyObject[];
  errors: ManifestError[];
  warnings: ManifestError[];
  files: ManifestFile[];
  /** Positions of fields of `objects`, for checkObjects. */
  locate: Locator;
}

/** The repository directories read, in order. */
export const MANIFEST_DIRS: readonly string[] = KINDS.map((k) => kindDirectories[k]);

const MANIFEST_FILE = /\.ya?ml$/;

/** A manifest path found by listing: its size, or the error that stops it being read. */
interface Listed {
  path: string;
  size: number;
  error?: ManifestError;
}

/**
 * Decodes every manifest file of the repository checked out at `dir`. Missing kind directories
 * are fine (empty). Throws OrunError `manifests_dir_unreadable` only when `dir` itself cannot be
 * read, and `manifests.superseded` when `options.signal` aborts; an unreadable file, a symlink
 * out of the repository or a file over the limit becomes an error of that file.
 *
 * @example
 * const repo = await loadManifestRepo('/opt/orun/repo', { commit: 'abc123' });
 * for (const f of repo.files) if (f.errors.length > 0) keepLastGood(f.path);
 */
export async function loadManifestRepo(dir: string, options: LoadOptions = {}): Promise<ManifestRepo> {
  return assembleRepo(await loadManifestFiles(dir, options));
}

/** Each manifest file of `dir` decoded, with its locator, in path order (see loadManifestRepo). */
export async function loadManifestFiles(
  dir: string,
  options: LoadOptions = {},
): Promise<{ file: ManifestFile; locate: Locator }[]> {
  let root: string;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    root = await realpath(dir);
  } catch (cause) {
    throw new OrunError('manifests_dir_unreadable', `manifests: read ${dir}: not a readable directory`, {
      cause,
      context: { dir },
    });
  }
  const limits = options.limits ?? DEFAULT_MANIFEST_LIMITS;
  const listed: Listed[] = [];
  for (const sub of MANIFEST_DIRS) listed.push(...(await listKindDir(root, sub)));
  listed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const total = listed.reduce((n, f) => n + f.size, 0);
  if (total > limits.maxRepoBytes) {
    for (const f of listed) f.error ??= tooLarge(f.path, total, limits.maxRepoBytes, REPO_LIMIT);
  }

  const decoder = new LoadDecoder({
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    workerMinBytes: options.workerMinBytes ?? Infinity,
  });
  const loaded = [];
  try {
    for (const entry of listed) {
      if (options.signal?.aborted)
        throw new OrunError('manifests.superseded', `manifests: load ${dir}: superseded`, {
          context: { dir },
        });
      loaded.push(await loadFile(root, entry, limits, options, decoder));
    }
  } finally {
    await decoder.close();
  }
  return loaded;
}

/** One repository from its decoded files (in path order), whatever they were read from. */
export function assembleRepo(loaded: readonly { file: ManifestFile; locate: Locator }[]): ManifestRepo {
  const repo: ManifestRepo = { objects: [], errors: [], warnings: [], files: [], locate: () => undefined };
  const locators: Locator[] = [];
  for (const file of loaded) {
    repo.files.push(file.file);
    repo.objects.push(...file.file.objects);
    repo.errors.push(...file.file.errors);
    repo.warnings.push(...file.file.warnings);
    locators.push(file.locate);
  }
  repo.locate = (obj, fieldPath) => {
    for (const l of locators) {
      const found = l(obj, fieldPath);
      if (found) return found;
    }
    return undefined;
  };
  return repo;
}

/** True for a repo-relative path the loader reads: a *.yaml/*.yml under a kind dir, no dot segment. */
export function isManifestPath(path: string): boolean {
  const parts = path.split('/');
  return (
    parts.length >= 2 &&
    MANIFEST_DIRS.includes(parts[0]!) &&
    !parts.some((p) => p.startsWith('.')) &&
    MANIFEST_FILE.test(parts[parts.length - 1]!)
  );
}

function fileError(path: string, code: ManifestErrorCode, message: string): ManifestError {
  return new ManifestError({ file: path, line: 1, col: 1, path: '', message, code });
}

async function loadFile(
  root: string,
  entry: Listed,
  limits: ManifestLimits,
  options: LoadOptions,
  decoder: LoadDecoder,
): Promise<{ file: ManifestFile; locate: Locator }> {
  const { path } = entry;
  const failed = (error: ManifestError) => ({
    file: { path, objects: [], errors: [error], warnings: [] },
    locate: () => undefined,
  });
  if (entry.error) return failed(entry.error);
  if (entry.size > limits.maxFileBytes) return failed(tooLarge(path, entry.size, limits.maxFileBytes));
  let text: string;
  try {
    text = await readFile(join(root, path), 'utf8');
  } catch (cause) {
    // The errno code only: a message could carry more than the path.
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    return failed(fileError(path, ManifestErrorCode.ReadFailed, `cannot read: ${code}`));
  }
  const decoded = await decoder.decode(path, text, {
    maxBytes: limits.maxFileBytes,
    ...(options.commit === undefined ? {} : { commit: options.commit }),
  });
  return {
    file: { path, objects: decoded.objects, errors: decoded.errors, warnings: decoded.warnings },
    locate: decoded.locate,
  };
}

/** The manifest files of one kind directory; a symlinked kind directory is an error. */
async function listKindDir(root: string, sub: string): Promise<Listed[]> {
  const full = join(root, sub);
  let info;
  try {
    info = await lstat(full);
  } catch {
    return [];
  }
  if (info.isSymbolicLink()) return [{ path: sub, size: 0, error: symlinkError(sub) }];
  if (!info.isDirectory()) return [];
  return listManifestFiles(root, full);
}

/** What the per-repository size limit is over (both loaders say it the same way). */
export const REPO_LIMIT = 'for all manifest files of the repository';

/** A symlinked manifest or kind directory: one error for both loaders (validate and the agent agree). */
export function symlinkError(path: string): ManifestError {
  return fileError(
    path,
    ManifestErrorCode.ReadFailed,
    'is a symbolic link; links are never followed (commit the file itself)',
  );
}

/** Repo-relative manifest files under `dir` (recursively); none when it does not exist. */
async function listManifestFiles(root: string, dir: string): Promise<Listed[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return [];
    throw new OrunError(
      'manifests_dir_unreadable',
      `manifests: list ${relative(root, dir)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err, context: { dir } },
    );
  }
  const out: Listed[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    const path = relative(root, full).split(sep).join('/');
    if (e.isDirectory()) out.push(...(await listManifestFiles(root, full)));
    else if (!MANIFEST_FILE.test(e.name)) continue;
    else if (e.isFile()) out.push({ path, size: (await lstat(full)).size });
    else if (e.isSymbolicLink()) out.push({ path, size: 0, error: symlinkError(path) });
  }
  return out;
}
