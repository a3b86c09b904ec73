/**
 * age identities: where orun finds them (`--age-key-path`, `SOPS_AGE_KEY_FILE`,
 * `<dataDir>/keys/age.key`) and how they unwrap a sops data key (`sops.age[].enc`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SopsErrorCode, sopsError } from './errors.ts';
import type { SopsAgeEntry } from './metadata.ts';

type AgeLibrary = typeof import('age-encryption');
let library: Promise<AgeLibrary> | undefined;

/**
 * age-encryption, loaded on first use: with @noble's ML-KEM, X25519 and ChaCha20 it is 0.9 MiB of
 * the agent's heap, which a node whose repository has no encrypted file never needs
 * (BENCHMARKS.md, agent-idle). Every use in orun goes through here.
 */
export function ageLibrary(): Promise<AgeLibrary> {
  return (library ??= import('age-encryption'));
}

/** Where identities come from. `identities()` is a method so the keys never serialize. */
export interface AgeIdentitySource {
  /** Where the keys came from (a file path or `inline`), for messages. Never key material. */
  readonly origin: string;
  /** The `AGE-SECRET-KEY-1…` strings. */
  identities(): readonly string[];
}

/** Identities as given to the decrypt functions: a list of key strings or a loaded source. */
export type AgeIdentities = readonly string[] | AgeIdentitySource;

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/** A loaded set of age identities whose printed forms show only the origin and count. */
export class AgeKeyring implements AgeIdentitySource {
  readonly origin: string;
  readonly #identities: readonly string[];

  constructor(identities: readonly string[], origin = 'inline') {
    this.origin = origin;
    this.#identities = Object.freeze([...identities]);
    Object.freeze(this);
  }

  identities(): readonly string[] {
    return this.#identities;
  }

  /** The public recipients (`age1…`) of these identities. */
  async recipients(): Promise<string[]> {
    const { identityToRecipient } = await ageLibrary();
    return Promise.all(this.#identities.map((id) => identityToRecipient(id)));
  }

  toJSON(): { origin: string; count: number } {
    return { origin: this.origin, count: this.#identities.length };
  }

  toString(): string {
    return `AgeKeyring(${this.origin}, ${this.#identities.length} identities)`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

/**
 * Parses an age key file: one `AGE-SECRET-KEY-1…` (or `AGE-SECRET-KEY-PQ-1…`) per line, blank
 * lines and `#` comments ignored (age-keygen writes `# created:` / `# public key:` lines).
 * A bad line is a `SopsNoKey` error naming the file and line number, never the line.
 */
export async function parseAgeKeyFile(text: string, origin: string): Promise<AgeKeyring> {
  const age = await ageLibrary();
  const ids: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!isValidIdentity(age, line)) {
      throw sopsError(SopsErrorCode.NoKey, `age key file ${origin}: line ${i + 1} is not an age identity`, {
        context: { file: origin, line: i + 1 },
      });
    }
    ids.push(line);
  }
  return new AgeKeyring(ids, origin);
}

function isValidIdentity(age: AgeLibrary, s: string): boolean {
  try {
    new age.Decrypter().addIdentity(s);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link loadAgeIdentities}. */
export interface LoadAgeIdentitiesOptions {
  /** `orun start --age-key-path`; tried first (default: not set). */
  flagPath?: string;
  /** Environment holding `SOPS_AGE_KEY_FILE`; tried second (default: `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The node's data dir; `<dataDir>/keys/age.key` is tried last. */
  dataDir: string;
}

/** One place {@link loadAgeIdentities} looked, as listed in a `SopsNoKey` error's `context.tried`. */
export interface KeyPathTried {
  source: '--age-key-path' | 'SOPS_AGE_KEY_FILE' | 'dataDir';
  path: string;
  result: 'not found' | 'no identities';
}

/**
 * Finds the node's age key, first hit wins: `--age-key-path`, then `$SOPS_AGE_KEY_FILE`, then
 * `<dataDir>/keys/age.key`. A missing or empty file moves on to the next place; an unreadable
 * file or a bad line stops with `SopsNoKey`. Nothing found is `SopsNoKey` naming every path tried.
 *
 * @example
 * const keys = await loadAgeIdentities({ flagPath: opts.ageKeyPath, env: process.env, dataDir: '/opt/orun/' });
 * const plain = await decryptSopsDocument(text, keys);
 */
export async function loadAgeIdentities(options: LoadAgeIdentitiesOptions): Promise<AgeKeyring> {
  const env = options.env ?? process.env;
  const candidates: { source: KeyPathTried['source']; path: string }[] = [];
  if (options.flagPath !== undefined && options.flagPath !== '') {
    candidates.push({ source: '--age-key-path', path: options.flagPath });
  }
  const envPath = env['SOPS_AGE_KEY_FILE'];
  if (envPath !== undefined && envPath !== '')
    candidates.push({ source: 'SOPS_AGE_KEY_FILE', path: envPath });
  candidates.push({ source: 'dataDir', path: join(options.dataDir, 'keys', 'age.key') });

  const tried: KeyPathTried[] = [];
  for (const c of candidates) {
    let text: string;
    try {
      text = await readFile(c.path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
        tried.push({ ...c, result: 'not found' });
        continue;
      }
      throw sopsError(SopsErrorCode.NoKey, `read age key file ${c.path} (from ${c.source})`, {
        cause,
        context: { file: c.path, source: c.source },
      });
    }
    const keyring = await parseAgeKeyFile(text, c.path);
    if (keyring.identities().length > 0) return keyring;
    tried.push({ ...c, result: 'no identities' });
  }
  const list = tried.map((t) => `${t.path} (${t.source}: ${t.result})`).join(', ');
  throw sopsError(SopsErrorCode.NoKey, `no age key found; tried ${list}`, { context: { tried } });
}

/** Normalises the identities argument of the decrypt functions. */
export async function toKeyring(ids: AgeIdentities): Promise<AgeKeyring> {
  if (ids instanceof AgeKeyring) return ids;
  if (isSource(ids)) return new AgeKeyring(ids.identities(), ids.origin);
  const age = await ageLibrary();
  for (const [i, id] of ids.entries()) {
    if (!isValidIdentity(age, id)) {
      throw sopsError(SopsErrorCode.NoKey, `identity #${i} is not an age identity`, {
        context: { index: i },
      });
    }
  }
  return new AgeKeyring(ids);
}

function isSource(ids: AgeIdentities): ids is AgeIdentitySource {
  return !Array.isArray(ids);
}

/**
 * Unwraps the 32-byte data key with the first `sops.age[]` entry any identity opens.
 * No entry opens: `SopsNoMatchingKey`, listing the file's and our recipients (public keys).
 */
export async function decryptDataKey(entries: readonly SopsAgeEntry[], ids: AgeIdentities): Promise<Buffer> {
  const keyring = await toKeyring(ids);
  if (entries.length === 0) {
    throw sopsError(SopsErrorCode.Unsupported, 'the file has no age recipients (sops.age is empty)', {
      context: { path: 'sops.age' },
    });
  }
  if (keyring.identities().length === 0) {
    throw sopsError(SopsErrorCode.NoKey, `no age identities given (${keyring.origin})`, {
      context: { origin: keyring.origin },
    });
  }
  const { Decrypter, armor } = await ageLibrary();
  const decrypter = new Decrypter();
  for (const id of keyring.identities()) decrypter.addIdentity(id);
  const causes: unknown[] = [];
  for (const [i, entry] of entries.entries()) {
    let wrapped: Uint8Array;
    try {
      wrapped = armor.decode(entry.enc);
    } catch (cause) {
      throw sopsError(SopsErrorCode.Malformed, `sops.age[${i}].enc is not an armored age file`, {
        cause,
        context: { path: `sops.age[${i}].enc` },
      });
    }
    let key: Uint8Array;
    try {
      key = await decrypter.decrypt(wrapped);
    } catch (cause) {
      causes.push(cause);
      continue;
    }
    if (key.length !== 32) {
      throw sopsError(
        SopsErrorCode.Malformed,
        `sops.age[${i}]: the data key is ${key.length} bytes, want 32`,
        {
          context: { path: `sops.age[${i}].enc` },
        },
      );
    }
    return Buffer.from(key);
  }
  const fileRecipients = entries.map((e) => e.recipient);
  const ours = await keyring.recipients();
  throw sopsError(
    SopsErrorCode.NoMatchingKey,
    `no age identity from ${keyring.origin} (${ours.join(', ')}) decrypts the data key ` +
      `(file recipients: ${fileRecipients.join(', ')}); to let this key in, add its recipient to ` +
      `.sops.yaml and run \`orun secrets updatekeys FILE\` where a recipient's key is`,
    {
      cause: new AggregateError(causes, 'age decrypt failed for every recipient'),
      context: { origin: keyring.origin, fileRecipients, identityRecipients: ours },
    },
  );
}
