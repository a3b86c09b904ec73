import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SopsValueType } from './cipher.ts';

/** What every printing path shows instead of a secret. */
export const REDACTED = '<redacted>';

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
// Keys the fallback fingerprint; per process, so it says nothing about the value to anyone else.
const processKey = randomBytes(32);

/**
 * A decrypted secret that cannot leak by accident: `String(s)`, `${s}`, `JSON.stringify`,
 * `util.inspect`/`console.log` and pino all print `<redacted>`. Only {@link SecretString.reveal}
 * returns the plaintext, so the one place that needs it (handing env to Docker) is easy to audit.
 *
 * @example
 * const s = new SecretString('hunter2');
 * `${s}`;            // '<redacted>'
 * JSON.stringify(s); // '"<redacted>"'
 * s.reveal();        // 'hunter2'
 */
export class SecretString {
  readonly #value: string;
  readonly #origin: string | undefined;
  /** The sops type the value was stored as (`str`, `int`, `bool`, ...), when it came from sops. */
  readonly sopsType: SopsValueType | undefined;

  /**
   * @param value the plaintext.
   * @param options.sopsType the sops type, if any (default undefined).
   * @param options.origin a non-secret identity of the value, e.g. its `ENC[...]` ciphertext; it
   *   makes {@link SecretString.fingerprint} stable across processes (default: none).
   */
  constructor(value: string, options: { sopsType?: SopsValueType; origin?: string } = {}) {
    this.#value = value;
    this.#origin = options.origin;
    this.sopsType = options.sopsType;
    Object.freeze(this);
  }

  /** The plaintext. Call it only where the value leaves the process for its real use. */
  reveal(): string {
    return this.#value;
  }

  /**
   * A hex digest that changes when the secret changes, safe to put in a spec hash or a label.
   * From sops it hashes the ciphertext (stable across restarts; sops keeps a value's IV while the
   * value is unchanged). Without an origin it is an HMAC under a per-process random key.
   */
  fingerprint(): string {
    if (this.#origin !== undefined) return createHash('sha256').update(this.#origin).digest('hex');
    return createHmac('sha256', processKey).update(this.#value).digest('hex');
  }

  /** Constant-time comparison of two secrets' plaintexts. */
  equals(other: SecretString): boolean {
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other.reveal());
    return a.length === b.length && timingSafeEqual(a, b);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspectCustom](): string {
    return `SecretString(${REDACTED})`;
  }

  /** True for a SecretString. */
  static isSecret(v: unknown): v is SecretString {
    return v instanceof SecretString;
  }
}

/** The plaintext of a string or SecretString (for the few call sites that hand values out). */
export function revealValue(v: string | SecretString): string {
  return typeof v === 'string' ? v : v.reveal();
}
