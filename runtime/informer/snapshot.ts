/**
 * Building the store snapshot of one commit from per-file decode results: a file that fails to
 * decode keeps its last good objects, a file gone from Git takes its objects with it, and only
 * objects this node selects are kept. Pure: the informer feeds it and applies the result.
 */
import {
  objectKey,
  SOURCE_ANNOTATION,
  type ApiObject,
  type ObjectKey,
} from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { selectsNode, type PlacementSpec } from '../../apis/run.orcra.dev/v0alpha/placement.ts';
import type { SourceError } from '../../apis/run.orcra.dev/v0alpha/node.ts';
import { hashOf } from '../store/index.ts';

export type { SourceError } from '../../apis/run.orcra.dev/v0alpha/node.ts';

/** One manifest file at one commit: what decoded, and what did not. */
export interface LoadedFile {
  /** Repo-relative, `/`-separated. */
  path: string;
  objects: readonly ApiObject[];
  errors: readonly SourceError[];
}

/** What the previous snapshot leaves to the next one. */
export interface SnapshotMemory {
  /** path → the objects of its last commit that decoded without error. */
  lastGood: ReadonlyMap<string, readonly ApiObject[]>;
  /** key → the object last put in a snapshot (before node filtering). */
  previous: ReadonlyMap<ObjectKey, ApiObject>;
}

export const EMPTY_MEMORY: SnapshotMemory = { lastGood: new Map(), previous: new Map() };

export interface BuildOptions {
  /** This node's name: its own Node object is always kept; other Nodes are dropped. */
  nodeName: string;
  /** The Node to use when the repository has none for this node (status needs a home). */
  fallbackNode: () => ApiObject;
  /**
   * Problems of a decoded object on this node (the host-path policy). A file with any is treated
   * as a file that failed: it keeps its last good objects. Default: none.
   */
  objectErrors?: (obj: ApiObject, node: ApiObject) => SourceError[];
  /**
   * Where a field of a decoded object sits (the loader's locator), so an error about an object is
   * at the line `orun validate` reports; undefined (then 1:1) for objects kept from before.
   */
  locate?: (obj: ApiObject, path: readonly PropertyKey[]) => { line: number; col: number } | undefined;
}

export interface BuiltSnapshot {
  /** The objects for Store.apply: this node's Node plus what it selects. */
  objects: ApiObject[];
  /** Every problem, sorted by file, line, column. */
  errors: SourceError[];
  /** Files that failed and whose last good objects were kept instead. */
  keptFiles: string[];
  /** Objects left out because this node does not select them. */
  notSelected: number;
  /** This node's Node (from Git, or the fallback). */
  node: ApiObject;
  /**
   * Set when the repository has a `nodes/` folder but no Node of this name (a mistyped
   * `--node`): the informer then applies nothing but the (fallback) Node. `known` lists the
   * Node names the repository has, sorted.
   */
  unknownNode?: { known: string[] };
  memory: SnapshotMemory;
}

/**
 * The snapshot for one commit.
 *
 * @example
 * const built = buildSnapshot(files, memory, { nodeName: 'web-1', fallbackNode });
 * store.apply({ kinds: SNAPSHOT_KINDS, objects: built.objects, revision });
 */
export function buildSnapshot(
  files: readonly LoadedFile[],
  memory: SnapshotMemory,
  opts: BuildOptions,
): BuiltSnapshot {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const { lastGood, errors, keptFiles, candidates } = filesOrLastGood(sorted, memory, opts);
  const owners = ownersOf(candidates, memory.previous);
  const all: ApiObject[] = [];
  for (const { file, obj } of candidates) {
    const key = objectKey(obj.kind, obj.metadata.name);
    const owner = owners.get(key) as Candidate;
    if (owner.obj !== obj) {
      const at = opts.locate?.(obj, ['metadata', 'name']) ?? { line: 1, col: 1 };
      errors.push({
        file,
        line: at.line,
        col: at.col,
        path: 'metadata.name',
        code: 'duplicate_name',
        message: `${key} is already defined in ${owner.file}; this one is ignored`,
      });
      continue;
    }
    all.push(keepSourceCommit(obj, memory.previous.get(key)));
  }
  const previous = new Map(all.map((o) => [objectKey(o.kind, o.metadata.name), o]));
  const own = all.find((o) => o.kind === 'Node' && o.metadata.name === opts.nodeName);
  const node = own ?? opts.fallbackNode();
  const unknownNode =
    own === undefined && files.some((f) => f.path.startsWith('nodes/'))
      ? {
          known: all
            .filter((o) => o.kind === 'Node')
            .map((o) => o.metadata.name)
            .sort(),
        }
      : undefined;
  const objects = [node];
  let notSelected = 0;
  for (const obj of all) {
    if (obj.kind === 'Node') continue;
    if (selectsNode(obj as { spec: PlacementSpec }, node)) objects.push(obj);
    else notSelected++;
  }
  errors.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
  return {
    objects,
    errors,
    keptFiles,
    notSelected,
    node,
    ...(unknownNode ? { unknownNode } : {}),
    memory: { lastGood, previous },
  };
}

/**
 * Each file's objects, or its last good ones when it has errors (its own, or objects this node's
 * policy refuses): the candidates for the snapshot, in path order, with every error.
 */
function filesOrLastGood(
  sorted: readonly LoadedFile[],
  memory: SnapshotMemory,
  opts: BuildOptions,
): {
  lastGood: Map<string, readonly ApiObject[]>;
  errors: SourceError[];
  keptFiles: string[];
  candidates: Candidate[];
} {
  const lastGood = new Map<string, readonly ApiObject[]>();
  const errors: SourceError[] = [];
  const keptFiles: string[] = [];
  const candidates: Candidate[] = [];
  const thisNode = opts.objectErrors && ownNode(sorted, memory, opts);
  for (const file of sorted) {
    errors.push(...file.errors);
    let objects = file.objects;
    const refused = new Set<ApiObject>();
    if (opts.objectErrors && thisNode) {
      for (const obj of objects) {
        const problems = opts.objectErrors(obj, thisNode);
        if (problems.length > 0) refused.add(obj);
        errors.push(...problems);
      }
    }
    if (file.errors.length === 0 && refused.size === 0) lastGood.set(file.path, file.objects);
    else {
      const old = memory.lastGood.get(file.path);
      if (old !== undefined) {
        objects = old;
        lastGood.set(file.path, old);
        keptFiles.push(file.path);
      } else objects = objects.filter((o) => !refused.has(o));
    }
    for (const obj of objects) candidates.push({ file: file.path, obj });
  }
  return { lastGood, errors, keptFiles, candidates };
}

/**
 * For each name defined in more than one file's last good objects: the file whose definition the
 * snapshot kept (the running object's). last-good.json saves it, so a restart keeps the same owner
 * instead of whichever file happened to be read last.
 */
export function duplicateOwners(memory: SnapshotMemory): Record<ObjectKey, string> {
  const files = new Map<ObjectKey, number>();
  for (const objects of memory.lastGood.values())
    for (const key of new Set(objects.map((o) => objectKey(o.kind, o.metadata.name))))
      files.set(key, (files.get(key) ?? 0) + 1);
  const owners: Record<ObjectKey, string> = {};
  for (const [key, n] of files) {
    const src = memory.previous.get(key)?.metadata.annotations?.[SOURCE_ANNOTATION];
    if (n > 1 && src !== undefined) owners[key] = pathOf(src);
  }
  return owners;
}

/**
 * The memory a restart starts from: the saved last good objects, each name's previous object from
 * its saved owner when several files define it (`duplicateOwners`), else from its only file.
 */
export function restoredMemory(
  lastGood: ReadonlyMap<string, readonly ApiObject[]>,
  owners: Readonly<Record<ObjectKey, string>>,
): SnapshotMemory {
  const previous = new Map<ObjectKey, ApiObject>();
  for (const [path, objects] of lastGood)
    for (const o of objects) {
      const key = objectKey(o.kind, o.metadata.name);
      const owner = owners[key];
      if (owner === undefined ? !previous.has(key) : owner === path) previous.set(key, o);
    }
  return { lastGood, previous };
}

/** This node's Node as this snapshot will hold it (from its file, its last good, or the fallback). */
function ownNode(files: readonly LoadedFile[], memory: SnapshotMemory, opts: BuildOptions): ApiObject {
  for (const f of files) {
    const objects = f.errors.length === 0 ? f.objects : (memory.lastGood.get(f.path) ?? f.objects);
    const node = objects.find((o) => o.kind === 'Node' && o.metadata.name === opts.nodeName);
    if (node) return node;
  }
  return opts.fallbackNode();
}

interface Candidate {
  file: string;
  obj: ApiObject;
}

/**
 * Which definition of each key wins when several files define it: the file the running object
 * came from (so a newcomer can never take over a live object), else the first by path. The
 * losers are reported as duplicates, whatever order the files sort in.
 */
function ownersOf(
  candidates: readonly Candidate[],
  previous: ReadonlyMap<ObjectKey, ApiObject>,
): Map<ObjectKey, Candidate> {
  const owners = new Map<ObjectKey, Candidate>();
  for (const c of candidates) {
    const key = objectKey(c.obj.kind, c.obj.metadata.name);
    const current = owners.get(key);
    if (current === undefined) owners.set(key, c);
    else {
      const src = previous.get(key)?.metadata.annotations?.[SOURCE_ANNOTATION];
      const incumbent = src === undefined ? undefined : pathOf(src);
      if (incumbent === c.file && current.file !== c.file) owners.set(key, c);
    }
  }
  return owners;
}

/**
 * Keeps the previous `path@commit` source annotation when nothing else about the object changed,
 * so a commit that does not touch an object does not rewrite it (which would wake every
 * controller watching it). The annotation then names the commit that last changed the object.
 */
function keepSourceCommit(obj: ApiObject, prev: ApiObject | undefined): ApiObject {
  const src = obj.metadata.annotations?.[SOURCE_ANNOTATION];
  const old = prev?.metadata.annotations?.[SOURCE_ANNOTATION];
  if (prev === undefined || src === undefined || old === undefined || src === old) return obj;
  if (pathOf(src) !== pathOf(old) || hashOf(withoutSource(obj)) !== hashOf(withoutSource(prev))) return obj;
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [SOURCE_ANNOTATION]: old } },
  };
}

function pathOf(source: string): string {
  const at = source.lastIndexOf('@');
  return at < 0 ? source : source.slice(0, at);
}

function withoutSource(obj: ApiObject): unknown {
  const { [SOURCE_ANNOTATION]: _src, ...annotations } = obj.metadata.annotations ?? {};
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}
