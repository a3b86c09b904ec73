/**
 * Reading a manifest repository from disk: every *.yaml / *.yml under nodes/, deployments/,
 * services/ and servicegraphs/ (sub-directories included, dot-files skipped), decoded file by file.
 * Results are per file so the agent can keep a file's last good objects when it stops decoding.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import {
  type AnyObject,
  KINDS,
  type Locator,
  ManifestError,
  ManifestErrorCode,
  decodeManifestFile,
  kindDirectories,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';

export interface LoadOptions {
  /** Commit the checkout is at; source annotations become `<path>@<commit>`. Default: none. */
  commit?: string;
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

/**
 * Decodes every manifest file of the repository checked out at `dir`. Missing kind directories
 * are fine (empty). Throws OrunError `manifests_dir_unreadable` only when `dir` itself cannot be read;
 * an unreadable file becomes a `read_failed` error of that file.
 *
 * @example
 * const repo = await loadManifestRepo('/opt/orun/repo', { commit: 'abc123' });
 * for (const f of repo.files) if (f.errors.length > 0) keepLastGood(f.path);
 */
export async function loadManifestRepo(dir: string, options: LoadOptions = {}): Promise<ManifestRepo> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new OrunError('manifests_dir_unreadable', `manifests: read ${dir}: not a readable directory`, {
      cause,
      context: { dir },
    });
  }
  const paths: string[] = [];
  for (const sub of MANIFEST_DIRS) paths.push(...(await listManifestFiles(dir, join(dir, sub))));
  paths.sort();

  const loaded = [];
  for (const path of paths) loaded.push(await loadFile(dir, path, options));
  return assembleRepo(loaded);
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

async function loadFile(
  root: string,
  path: string,
  options: LoadOptions,
): Promise<{ file: ManifestFile; locate: Locator }> {
  let text: string;
  try {
    text = await readFile(join(root, path), 'utf8');
  } catch (cause) {
    const message = `cannot read: ${cause instanceof Error ? cause.message : String(cause)}`;
    const error = new ManifestError({
      file: path,
      line: 1,
      col: 1,
      path: '',
      message,
      code: ManifestErrorCode.ReadFailed,
    });
    return { file: { path, objects: [], errors: [error], warnings: [] }, locate: () => undefined };
  }
  const decoded = decodeManifestFile(
    path,
    text,
    options.commit === undefined ? {} : { commit: options.commit },
  );
  return {
    file: { path, objects: decoded.objects, errors: decoded.errors, warnings: decoded.warnings },
    locate: decoded.locate,
  };
}

/** Repo-relative paths of manifest files under `dir` (recursively); none when it does not exist. */
async function listManifestFiles(root: string, dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return [];
    throw new OrunError(
      'manifests_dir_unreadable',
      `manifests: list ${relative(root, dir)}: ${String(err)}`,
      {
        cause: err,
        context: { dir },
      },
    );
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listManifestFiles(root, full)));
    else if ((e.isFile() || e.isSymbolicLink()) && MANIFEST_FILE.test(e.name))
      out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}
