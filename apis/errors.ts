/**
 * Errors are typed values: a stable `code` to branch on (never the message text), a message
 * that names the step (`caddy: load config: ...`), the `cause`, and context fields for logs.
 */
export class OrunError extends Error {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrunError';
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

/** True when `err` is an OrunError, optionally with the given code. */
export function isOrunError(err: unknown, code?: string): err is OrunError {
  return err instanceof OrunError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs and conditions. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
