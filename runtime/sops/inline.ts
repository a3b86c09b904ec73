/**
 * Inline `ENC[...]` values in plain (not sops-encrypted) manifests, sealed with the data key of
 * the repository's root `secrets.yaml`. sops binds a value to its place with the key path as AAD;
 * an inline value is bound to its object too, since a plain manifest has no file-wide MAC:
 * the AAD is `<Kind>/<name>:` followed by the sops path (`spec:env:DB_PASSWORD:`), so a value
 * copied to another key or another Deployment fails authentication.
 */
import { leafText, openValue, parseEncryptedValue, parseLeaf, sealValue } from './cipher.ts';
import { SopsErrorCode, sopsError } from './errors.ts';
import { pathAad } from './metadata.ts';
import { SecretString } from './secret.ts';

/** Where an inline value sits: its object and the map-key path inside it. */
export interface InlinePlace {
  kind: string;
  name: string;
  /** Map keys from the document root, e.g. `['spec', 'env', 'DB_PASSWORD']`. */
  path: readonly string[];
}

/**
 * The AAD an inline value is sealed with.
 *
 * @example inlineAad({ kind: 'Deployment', name: 'web', path: ['spec', 'env', 'DB'] }) // 'Deployment/web:spec:env:DB:'
 */
export function inlineAad(place: InlinePlace): string {
  return `${place.kind}/${place.name}:${pathAad(place.path)}`;
}

/** Encrypts a string for one place (what `orun secrets encrypt-value` prints). */
export function sealInline(plaintext: string, dataKey: Uint8Array, place: InlinePlace): string {
  if (plaintext === '') {
    throw sopsError(SopsErrorCode.Malformed, 'encrypt-value: an empty value cannot be encrypted');
  }
  return sealValue({ type: 'str', value: plaintext }, dataKey, inlineAad(place));
}

/**
 * Decrypts an inline value for its place. Throws `SopsMalformed` when it is not an `ENC[...]`
 * value, `SopsMacMismatch` when it fails authentication (changed, truncated, moved from another
 * key or object, or sealed under another data key). Messages name the place, never the value.
 */
export function openInline(ciphertext: string, dataKey: Uint8Array, place: InlinePlace): SecretString {
  const where = `${place.kind}/${place.name} ${place.path.join('.')}`;
  const context = { path: place.path.join('.'), object: `${place.kind}/${place.name}` };
  const enc = parseEncryptedValue(ciphertext);
  if (typeof enc === 'string') {
    throw sopsError(SopsErrorCode.Malformed, `${where}: inline value ${enc}`, { context });
  }
  const plain = openValue(enc, dataKey, inlineAad(place));
  if (plain === undefined) {
    throw sopsError(
      SopsErrorCode.MacMismatch,
      `${where}: inline ENC[...] value fails authentication (changed or truncated, moved from another key or object, or not sealed with this repository's secrets.yaml data key)`,
      { context },
    );
  }
  const leaf = parseLeaf(enc.type, plain);
  if (typeof leaf === 'string' || leaf.type === 'comment') {
    throw sopsError(SopsErrorCode.Malformed, `${where}: inline value has type ${enc.type}`, { context });
  }
  return new SecretString(leafText(leaf), { sopsType: leaf.type, origin: ciphertext });
}
