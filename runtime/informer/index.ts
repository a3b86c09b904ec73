/**
 * The Git informer: GitSource revisions → decoded, decrypted, node-filtered snapshots → Store.
 *
 * @example
 * const informer = new GitInformer({
 *   store, nodeName, fallbackNode,
 *   source: new GitSource({ ..., branch: () => nodeBranch() }), // reads its settings at each poll
 *   loader: loadManifestTree, decryptor: new SopsManifestDecryptor(identities),
 * });
 * manager.addSource(informer); // hasSynced after the first applied snapshot
 */
export {
  formatSourceError,
  GitInformer,
  SNAPSHOT_KINDS,
  type GitInformerOptions,
  type InformerResult,
  type RevisionSource,
  type SourceRevision,
} from './informer.ts';
export type { DecryptedManifest, DecryptSession, ManifestDecryptor, ManifestLoader } from './deps.ts';
export {
  buildSnapshot,
  EMPTY_MEMORY,
  type BuildOptions,
  type BuiltSnapshot,
  type LoadedFile,
  type SnapshotMemory,
  type SourceError,
} from './snapshot.ts';
export { FileLastGoodStore, MemoryLastGoodStore, type LastGood, type LastGoodStore } from './lastgood.ts';
