/**
 * The repository's root `secrets.yaml` and the inline `ENC[...]` values of plain manifests, as
 * the informer holds them: what the last revision's secrets.yaml gave (`RootSecrets`), the
 * Deployment controller's view of it (`SecretKeys`), and how errors about encrypted values are
 * shown. Decrypting is the decryptor's (runtime/sops manifest.ts `SopsManifestDecryptor`, given
 * to the informer's constructor): the informer itself calls no SOPS code.
 */
import type { SecretString } from '../sops/secret.ts';
import { Redactor } from '../log/index.ts';

/** The root secrets file's name. */
export const SECRETS_FILE = 'secrets.yaml';

/** What the last revision's `secrets.yaml` gave. */
export type RootSecrets =
  | { readonly state: 'absent' }
  | {
      readonly state: 'ready';
      readonly values: ReadonlyMap<string, SecretString>;
      readonly dataKey: Buffer;
    }
  | { readonly state: 'failed'; readonly code: string; readonly message: string };

export const ABSENT: RootSecrets = { state: 'absent' };

/**
 * secrets.yaml's values as the Deployment controller reads them (structurally the controller's
 * own SecretKeys interface).
 */
export interface SecretKeys {
  /** The value of a top-level key; undefined when there is none or the file is not decrypted. */
  get(key: string): SecretString | undefined;
  /** Every top-level scalar key (empty when the file is absent or not decrypted). */
  names(): string[];
  /** Why no value is available (no file, no key, tampered), or undefined when decrypted. */
  unavailable(): string | undefined;
}

/** Changes when any value or the availability changes; holds no plaintext (ciphertext digests). */
export function secretsFingerprint(s: RootSecrets): string {
  if (s.state !== 'ready') return s.state === 'failed' ? `failed:${s.code}` : 'absent';
  return [...s.values].map(([k, v]) => `${k}=${v.fingerprint()}`).join(',');
}

/**
 * An error about a value that was encrypted in Git never quotes it: the message of an error at
 * (or under) a decrypted path is replaced, and any decrypted value in other messages is masked.
 */
export function hideSecretValues<E extends { path: string; message: string }>(
  e: E,
  plain: { secretPaths: ReadonlyMap<string, readonly string[]>; plaintexts: readonly string[] },
): E {
  const encrypted = [...plain.secretPaths.values()]
    .flat()
    .some((p) => e.path === p || e.path.startsWith(`${p}.`) || e.path.startsWith(`${p}[`));
  if (encrypted) return { ...e, message: 'invalid value (encrypted in Git; not shown)' };
  const r = new Redactor();
  r.add(...plain.plaintexts);
  return { ...e, message: r.redact(e.message) };
}
