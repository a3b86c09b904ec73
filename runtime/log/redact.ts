/**
 * Replaces known secret values in free text (event messages, condition messages, errors)
 * with `[REDACTED]`. Secret values are registered as they are decrypted.
 */
export class Redactor {
  readonly #values = new Set<string>();

  /** Registers values to hide. Values shorter than 4 characters are ignored (too many false hits). */
  add(...values: string[]): void {
    for (const v of values) if (v.length >= 4) this.#values.add(v);
  }

  clear(): void {
    this.#values.clear();
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is hidden whole.
    const sorted = [...this.#values].sort((a, b) => b.length - a.length);
    for (const v of sorted) out = out.split(v).join('[REDACTED]');
    return out;
  }
}
