import { OrunError } from '../../apis/errors.ts';

/**
 * Stable codes of the errors this package throws (branch on these, never on the message).
 * Messages and contexts never hold plaintext or key material: only paths, recipients and file names.
 */
export const SopsErrorCode = {
  /** The file was changed after sops wrote it: MAC mismatch, plaintext where ciphertext belongs, a value that fails authentication. */
  MacMismatch: 'SopsMacMismatch',
  /** None of the age identities decrypts the file's data key. */
  NoMatchingKey: 'SopsNoMatchingKey',
  /** The file or a value is not in the sops format; `context.path` names the bad value. */
  Malformed: 'SopsMalformed',
  /** No age key file was found (or it holds no key); `context.tried` lists every path tried. */
  NoKey: 'SopsNoKey',
  /** A valid sops feature this decryptor does not implement (Shamir key groups, comment regexes, no age recipient). */
  Unsupported: 'SopsUnsupported',
} as const;

export type SopsErrorCode = (typeof SopsErrorCode)[keyof typeof SopsErrorCode];

export function sopsError(
  code: SopsErrorCode,
  message: string,
  options: { cause?: unknown; context?: Record<string, unknown> } = {},
): OrunError {
  return new OrunError(code, `sops: ${message}`, options);
}

/** A value path for messages: `app2.db.password`, `an_array[2]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '<root>' : out;
}
