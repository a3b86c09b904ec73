/**
 * What the informer is given through its constructor (runtime core: it calls no edge itself):
 * the loader that decodes a revision's manifest files (runtime/manifests `loadManifestTree`) and
 * the decryptor of SOPS files and values (runtime/sops `SopsManifestDecryptor`). Only their
 * types are named here; the agent (cmd/orun/agent.ts) passes the implementations.
 */
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import type { ManifestTree, TreeLoadOptions, TreeRepo } from '../manifests/tree.ts';
import type { SecretString } from '../sops/secret.ts';
import type { RootSecrets } from './secrets.ts';
import type { SourceError } from './snapshot.ts';

/** Decodes every manifest file of a commit's tree; rejects only when the tree cannot be read. */
export type ManifestLoader = (tree: ManifestTree, options: TreeLoadOptions) => Promise<TreeRepo>;

/** One SOPS-encrypted manifest file, decrypted. */
export interface DecryptedManifest {
  /** The text to decode: same lines as the original. */
  text: string;
  /** `ENC[...]` ciphertext of each secret env value → its plaintext. */
  secrets: Map<string, SecretString>;
  /**
   * Paths (`metadata.annotations.db`, `spec.ports[0].port`) of the values that were
   * encrypted and are decrypted in place, by object (`Kind/name`): outputs redact them.
   */
  secretPaths: Map<string, string[]>;
  /** Those values' plaintexts, for redacting free text (messages that quote a value). */
  plaintexts: string[];
}

/** Decrypts what one revision needs; the key is loaded at most once, when first needed. */
export interface DecryptSession {
  /** True when the text is a SOPS-encrypted file. */
  isEncrypted(text: string): boolean;
  /** Decrypts a whole file. Throws an error with a string `code` (reported against the file). */
  decryptFile(text: string): Promise<DecryptedManifest>;
  /** The root secrets.yaml (undefined: the commit has none). Never throws. */
  rootSecrets(text: string | undefined): Promise<{ secrets: RootSecrets; error?: SourceError }>;
  /** The inline `ENC[...]` env values of a plain file's Deployments, opened with the root data key. */
  inlineValues<O extends ApiObject>(
    file: { path: string; objects: readonly O[] },
    dataKey: Buffer | undefined,
    locate: (obj: O, path: readonly PropertyKey[]) => { line: number; col: number } | undefined,
  ): { secrets: Map<string, SecretString>; errors: SourceError[] };
}

export interface ManifestDecryptor {
  /** A session for one revision. */
  session(): DecryptSession;
}
