/**
 * Redaction by construction: every object the API server writes passes through redactObject, so
 * no secret (plaintext or SOPS ciphertext) ever leaves the agent. See SecretValue for the wire form.
 */
import { formatPath } from '../../apis/run.orcra.dev/v0alpha/manifesterror.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { SecretValue } from './types.ts';

const SECRET: SecretValue = Object.freeze({ secret: true });

/** An inline SOPS value, `ENC[AES256_GCM,data:...,type:str]`. */
const SOPS_VALUE = /^ENC\[[\s\S]*\]$/;

/**
 * Says whether the env var `key` of `obj` holds a secret even though its value is not an
 * `ENC[...]` string (e.g. a backend that keeps decrypted values). Default: never.
 */
export type SecretEnvPredicate = (obj: ApiObject, key: string) => boolean;

export interface RedactOptions {
  /** Extra env vars to mask. Default: none beyond the always-masked ones. */
  isSecretEnv?: SecretEnvPredicate;
  /**
   * Field paths of `obj` (`metadata.annotations.db`, `spec.ports[0].port`) whose values were
   * SOPS-encrypted in Git and are held decrypted: each is masked. Default: none.
   */
  secretPaths?: (obj: ApiObject) => readonly string[];
  /** Masks known secret values inside any other string (status messages). Default: none. */
  redactText?: (text: string) => string;
}

/**
 * Returns a deep copy of `obj` in which:
 * - every string anywhere in the object that is an inline SOPS value `ENC[...]` is `{secret: true}`;
 * - every value of an `env` map that is not a plain string/number/boolean is `{secret: true}`
 *   (a structured env value is assumed to be a secret reference);
 * - every env value `options.isSecretEnv` flags is `{secret: true}`;
 * - every field `options.secretPaths` names is `{secret: true}`, and other strings go through
 *   `options.redactText`.
 * A `{secretKeyRef: KEY}` env value is shown: it names a key, it holds no secret.
 * The input is not modified (store objects are frozen).
 */
export function redactObject<T extends ApiObject>(obj: T, options: RedactOptions = {}): T {
  const isSecretEnv = options.isSecretEnv ?? (() => false);
  const secretPaths = new Set(options.secretPaths?.(obj) ?? []);
  const text = options.redactText ?? ((s: string) => s);
  const walk = (value: unknown, inEnv: boolean, path: PropertyKey[]): unknown => {
    if (secretPaths.size > 0 && secretPaths.has(formatPath(path))) return SECRET;
    if (typeof value === 'string') return SOPS_VALUE.test(value) ? SECRET : text(value);
    if (Array.isArray(value)) return value.map((v: unknown, i) => walk(v, false, [...path, i]));
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (inEnv && isSecretKeyRef(v)) out[k] = { secretKeyRef: v.secretKeyRef };
      else if (inEnv && !isPlain(v)) out[k] = SECRET;
      else if (inEnv && isSecretEnv(obj, k)) out[k] = SECRET;
      else out[k] = walk(v, k === 'env' && isMap(v), [...path, k]);
    }
    return out;
  };
  return walk(obj, false, []) as T;
}

/** `{secretKeyRef: KEY}` names a key of secrets.yaml: a reference, not a secret. */
function isSecretKeyRef(v: unknown): v is { secretKeyRef: string } {
  return (
    isMap(v) &&
    Object.keys(v as object).length === 1 &&
    typeof (v as { secretKeyRef?: unknown }).secretKeyRef === 'string'
  );
}

function isPlain(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function isMap(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
