/**
 * The value cipher of getsops/sops (`aes/cipher.go`): AES-256-GCM with a 32-byte IV and the
 * value's path as additional data, written as
 * `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:str|int|float|bool|bytes|comment]`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type SopsValueType = 'str' | 'int' | 'int64' | 'float' | 'bool' | 'bytes' | 'comment';

/** A plaintext leaf as sops types it. `bigint` and integral `int` values are sops ints. */
export type SopsLeaf =
  | { type: 'str'; value: string }
  | { type: 'int' | 'int64'; value: bigint }
  | { type: 'float'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'comment'; value: string };

export interface EncryptedValue {
  readonly data: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly type: string;
}

const IV_BYTES = 32;
const TAG_BYTES = 16;
// Same expression as sops (greedy groups, anchored at the start only).
const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/s;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `value` looks like a sops encrypted value (it may still be malformed). */
export function isEncryptedValue(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('ENC[AES256_GCM,');
}

/** Splits an `ENC[...]` string. Returns a reason string (never the value) when it does not parse. */
export function parseEncryptedValue(text: string): EncryptedValue | string {
  const m = ENC_RE.exec(text);
  if (m === null) return 'not in the ENC[AES256_GCM,...] format';
  const [, data = '', iv = '', tag = '', type = ''] = m;
  for (const [name, b64] of [
    ['data', data],
    ['iv', iv],
    ['tag', tag],
  ] as const) {
    if (!B64_RE.test(b64)) return `${name} is not standard base64`;
  }
  const parsed = {
    data: Buffer.from(data, 'base64'),
    iv: Buffer.from(iv, 'base64'),
    tag: Buffer.from(tag, 'base64'),
    type,
  };
  if (parsed.iv.length === 0) return 'empty iv';
  if (parsed.tag.length !== TAG_BYTES) return `tag is ${parsed.tag.length} bytes, want ${TAG_BYTES}`;
  return parsed;
}

/** AES-256-GCM open. Returns undefined when authentication fails (wrong key, path or tampered bytes). */
export function openValue(enc: EncryptedValue, key: Uint8Array, aad: string): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, enc.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(enc.tag);
  try {
    return Buffer.concat([decipher.update(enc.data), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Encrypts one leaf the way sops does: a random 32-byte IV, the path as AAD. Empty strings stay empty. */
export function sealValue(
  leaf: SopsLeaf,
  key: Uint8Array,
  aad: string,
  iv: Uint8Array = randomBytes(IV_BYTES),
): string {
  if ((leaf.type === 'str' || leaf.type === 'comment') && leaf.value === '') return '';
  if (leaf.type === 'bytes' && leaf.value.length === 0) return '';
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(leafBytes(leaf)), cipher.final()]);
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
  return `ENC[AES256_GCM,data:${b64(data)},iv:${b64(iv)},tag:${b64(cipher.getAuthTag())},type:${leaf.type}]`;
}

/**
 * Parses decrypted bytes by the value's type, like sops' `Cipher.Decrypt` (Go's strconv rules).
 * Returns a reason string when the text does not parse.
 */
export function parseLeaf(type: string, bytes: Buffer): SopsLeaf | string {
  const text = bytes.toString('utf8');
  switch (type) {
    case 'str':
      return { type, value: text };
    case 'comment':
      return { type, value: text };
    case 'bytes':
      return { type, value: new Uint8Array(bytes) };
    case 'int':
    case 'int64': {
      if (!/^[+-]?[0-9]+$/.test(text)) return `type ${type} but the plaintext is not an integer`;
      const value = BigInt(text);
      if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) return `type ${type} out of 64-bit range`;
      return { type, value };
    }
    case 'float': {
      const value = parseGoFloat(text);
      return value === undefined ? 'type float but the plaintext is not a number' : { type, value };
    }
    case 'bool': {
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return { type, value: true };
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return { type, value: false };
      return 'type bool but the plaintext is not a boolean';
    }
    default:
      return `unknown type ${JSON.stringify(type)}`;
  }
}

/** The bytes sops feeds to the MAC for a leaf (`sops.ToBytes`). */
export function leafBytes(leaf: SopsLeaf): Uint8Array {
  switch (leaf.type) {
    case 'str':
    case 'comment':
      return Buffer.from(leaf.value, 'utf8');
    case 'int':
    case 'int64':
      return Buffer.from(leaf.value.toString());
    case 'float':
      return Buffer.from(formatGoFloat(leaf.value));
    case 'bool':
      return Buffer.from(leaf.value ? 'True' : 'False');
    case 'bytes':
      return leaf.value;
  }
}

/** The plaintext text of a leaf as a user reads it (`true`, `8080`, `1.5`). */
export function leafText(leaf: SopsLeaf): string {
  switch (leaf.type) {
    case 'bool':
      return leaf.value ? 'true' : 'false';
    case 'bytes':
      return Buffer.from(leaf.value).toString('utf8');
    default:
      return Buffer.from(leafBytes(leaf)).toString('utf8');
  }
}

/** The JS value of a leaf: ints are numbers when safe, else bigint. */
export function leafValue(leaf: SopsLeaf): string | number | bigint | boolean | Uint8Array {
  if (leaf.type === 'int' || leaf.type === 'int64') {
    const n = Number(leaf.value);
    return Number.isSafeInteger(n) ? n : leaf.value;
  }
  return leaf.value;
}

/** Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (Object.is(f, -0)) return '-0';
  const s = String(f);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const [, sign = '', lead = '', frac = '', expText = '0'] = m;
  const digits = lead + frac;
  const exp = Number(expText);
  if (exp >= 0) {
    const intLen = 1 + exp;
    return (
      sign +
      (digits.length <= intLen
        ? digits.padEnd(intLen, '0')
        : `${digits.slice(0, intLen)}.${digits.slice(intLen)}`)
    );
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** Go's `strconv.ParseFloat(s, 64)` for decimal input (hex floats are rejected). */
function parseGoFloat(text: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(text)) return undefined;
  return Number(text);
}
