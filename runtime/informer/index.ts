/**
 * The Git informer: GitSource revisions → decoded, decrypted, node-filtered snapshots → Store.
 *
 * @example
 * const informer = new GitInformer({ store, nodeName, settings, newSource: (s) => new GitSource({...}), fallbackNode });
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
  type SourceSettings,
} from './informer.ts';
export {
  buildSnapshot,
  EMPTY_MEMORY,
  type BuildOptions,
  type BuiltSnapshot,
  type LoadedFile,
  type SnapshotMemory,
  type SourceError,
} from './snapshot.ts';
export { decryptManifest, hasSopsBlock, ManifestDecryptError, type DecryptedManifest } from './sops.ts';
export { FileLastGoodStore, MemoryLastGoodStore, type LastGood, type LastGoodStore } from './lastgood.ts';
