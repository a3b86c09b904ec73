/**
 * The repository's root `secrets.yaml` and the inline `ENC[...]` values of plain manifests.
 *
 * `secrets.yaml` is a sops file (age). It is decrypted with the MAC verified; its top-level keys
 * with a scalar value are offered to Deployments (`env.X: {secretKeyRef: KEY}`, `envFrom`,
 * `secretFiles`), and its data key opens the inline `ENC[...]` env values of plain Deployment
 * files, each bound to its object and key (runtime/sops inlineAad). A tampered inline value is an
 * error of its file (which keeps its last good objects); a value that cannot be opened because
 * there is no key is not: only the Deployments that need it stall.
 */
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import {
  type AgeIdentities,
  SecretString,
  isEncryptedValue,
  openInline,
  openSopsFile,
} from '../sops/index.ts';
import type { SourceError } from './snapshot.ts';

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
 * Decrypts the text of the root `secrets.yaml` (undefined: the commit has none). Never throws: a
 * failure is a `failed` state plus a SourceError for the Node's status (messages never hold
 * plaintext).
 */
export async function loadRootSecrets(
  text: string | undefined,
  identities: () => Promise<AgeIdentities | undefined>,
): Promise<{ secrets: RootSecrets; error?: SourceError }> {
  if (text === undefined) return { secrets: ABSENT };
  const ids = await identities();
  if (ids === undefined) {
    return failed(
      'SopsNoKey',
      'secrets.yaml is sops-encrypted but no age key is configured (--age-key-path, SOPS_AGE_KEY_FILE or <dataDir>/keys/age.key)',
    );
  }
  try {
    const opened = await openSopsFile(text, ids, { secrets: true });
    if (opened.documents.length !== 1) {
      return failed('SopsMalformed', `expected one YAML document, found ${opened.documents.length}`);
    }
    return {
      secrets: { state: 'ready', values: topLevelValues(opened.documents[0]), dataKey: opened.dataKey },
    };
  } catch (err) {
    return failed(isOrunError(err) ? err.code : 'SopsFailed', `cannot decrypt: ${errorMessage(err)}`);
  }
}

function failed(code: string, message: string): { secrets: RootSecrets; error: SourceError } {
  return {
    secrets: { state: 'failed', code, message },
    error: { file: SECRETS_FILE, line: 1, col: 1, path: 'sops', code, message },
  };
}

/** Top-level keys with a scalar value; maps and lists are not offered. */
function topLevelValues(doc: unknown): Map<string, SecretString> {
  const out = new Map<string, SecretString>();
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return out;
  for (const [k, v] of Object.entries(doc)) {
    if (v instanceof SecretString) out.set(k, v);
    else if (
      typeof v === 'string' ||
      typeof v === 'number' ||
      typeof v === 'boolean' ||
      typeof v === 'bigint'
    )
      out.set(k, new SecretString(String(v)));
  }
  return out;
}

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

/**
 * Opens the inline `ENC[...]` env values of a plain file's Deployments with the root data key.
 * Returns their plaintexts (by ciphertext) and one error per value that fails authentication.
 * Without a data key nothing is opened and nothing is an error (the Deployments stall instead).
 */
export function openInlineValues<O extends ApiObject>(
  file: { path: string; objects: readonly O[] },
  dataKey: Buffer | undefined,
  locate: (obj: O, path: readonly PropertyKey[]) => { line: number; col: number } | undefined,
): { secrets: Map<string, SecretString>; errors: SourceError[] } {
  const secrets = new Map<string, SecretString>();
  const errors: SourceError[] = [];
  if (dataKey === undefined) return { secrets, errors };
  for (const obj of file.objects) {
    if (obj.kind !== 'Deployment') continue;
    const env = (obj.spec as { env?: Record<string, unknown> }).env ?? {};
    for (const [key, value] of Object.entries(env)) {
      if (!isEncryptedValue(value)) continue;
      const place = { kind: obj.kind, name: obj.metadata.name, path: ['spec', 'env', key] };
      try {
        secrets.set(value, openInline(value, dataKey, place));
      } catch (err) {
        const at = locate(obj, ['spec', 'env', key]) ?? { line: 1, col: 1 };
        errors.push({
          file: file.path,
          line: at.line,
          col: at.col,
          path: `spec.env.${key}`,
          code: isOrunError(err) ? err.code : 'SopsFailed',
          message: `${obj.kind}/${obj.metadata.name} env ${key}: ${errorMessage(err).replace(/^sops: [^:]*: /, '')}`,
        });
      }
    }
  }
  return { secrets, errors };
}

/** Changes when any value or the availability changes; holds no plaintext (ciphertext digests). */
export function secretsFingerprint(s: RootSecrets): string {
  if (s.state !== 'ready') return s.state === 'failed' ? `failed:${s.code}` : 'absent';
  return [...s.values].map(([k, v]) => `${k}=${v.fingerprint()}`).join(',');
}
