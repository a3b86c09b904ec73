/**
 * SOPS in manifest repositories: whole encrypted manifest files, the root `secrets.yaml` and the
 * inline `ENC[...]` values of plain files; `SopsManifestDecryptor` offers them to the informer.
 *
 * SOPS-encrypted manifest files. A file with a `sops:` block is decrypted (MAC verified); its
 * `spec.env` values stay as their `ENC[...]` ciphertext in the decoded objects (so the store,
 * logs and the API only ever hold ciphertext) and their plaintext is kept as SecretStrings for
 * the Deployment controller's resolver. Any other encrypted field (e.g. with sops' default
 * rules) is replaced in place by its plaintext before decoding, and the `sops:` block is blanked
 * out, so the lines and columns of decode errors still match the file in Git.
 */
import { isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import { formatPath } from '../../apis/run.orcra.dev/v0alpha/manifesterror.ts';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/index.ts';
import type { DecryptedManifest, DecryptSession, ManifestDecryptor } from '../informer/deps.ts';
import { ABSENT, SECRETS_FILE, type RootSecrets } from '../informer/secrets.ts';
import type { SourceError } from '../informer/snapshot.ts';
import type { AgeIdentities } from './age.ts';
import { isEncryptedValue } from './cipher.ts';
import { decryptSopsDocuments, openSopsFile } from './decrypt.ts';
import { openInline } from './inline.ts';
import { SecretString } from './secret.ts';

/** True when the text has a top-level `sops:` block (cheap test before parsing). */
export function hasSopsBlock(text: string): boolean {
  return /^sops:/m.test(text);
}

export type { DecryptedManifest } from '../informer/deps.ts';

/** Object identity fields: needed in clear to address the object, so never redacted. */
const IDENTITY_PATHS = new Set(['apiVersion', 'kind', 'metadata.name']);

/** Thrown as a per-file problem; `code` is the sops error code (e.g. `SopsMacMismatch`). */
export class ManifestDecryptError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Decrypts one manifest file. `identities` undefined means no age key is configured.
 * Throws ManifestDecryptError (to be reported against the file).
 */
export async function decryptManifest(
  text: string,
  identities: AgeIdentities | undefined,
): Promise<DecryptedManifest> {
  if (identities === undefined) {
    throw new ManifestDecryptError(
      'SopsNoKey',
      'file is sops-encrypted but no age key is configured (--age-key-path, SOPS_AGE_KEY_FILE or <dataDir>/keys/age.key)',
    );
  }
  let plain: unknown[];
  try {
    plain = await decryptSopsDocuments(text, identities, { secrets: true });
  } catch (err) {
    throw new ManifestDecryptError(
      isOrunError(err) ? err.code : 'SopsFailed',
      `cannot decrypt: ${errorMessage(err)}`,
    );
  }
  // Parsed (and checked for duplicate keys) by decryptSopsDocuments already; the library's own
  // duplicate check is quadratic in a map's keys.
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  const edits: { from: number; to: number; text: string }[] = [];
  const secrets = new Map<string, SecretString>();
  const secretPaths = new Map<string, string[]>();
  const plaintexts: string[] = [];
  docs.forEach((doc, i) => {
    const id = objectId(plain[i]);
    const paths: string[] = [];
    const root = doc.contents;
    if (!isMap(root)) return;
    for (const pair of root.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (key === 'sops' && isScalar(pair.key) && pair.key.range) {
        const end = (pair.value as YamlNode | null)?.range?.[2] ?? pair.key.range[2];
        edits.push({ from: pair.key.range[0], to: end, text: blank(text.slice(pair.key.range[0], end)) });
      }
    }
    walk(root, plain[i], [], (node, value, path) => {
      if (!isScalar(node) || !isEncryptedValue(node.value) || !(value instanceof SecretString)) return;
      if (path[0] === 'spec' && path[1] === 'env' && path.length === 3) {
        secrets.set(node.value, value);
        return;
      }
      const [from, to] = node.range ?? [0, 0];
      const literal =
        value.sopsType === 'str' || value.sopsType === undefined
          ? JSON.stringify(value.reveal())
          : value.reveal();
      edits.push({ from, to, text: literal });
      const dotted = formatPath(path);
      if (!IDENTITY_PATHS.has(dotted)) {
        paths.push(dotted);
        plaintexts.push(value.reveal());
      }
    });
    if (id !== undefined && paths.length > 0) secretPaths.set(id, [...(secretPaths.get(id) ?? []), ...paths]);
  });
  let out = text;
  for (const e of edits.sort((a, b) => b.from - a.from))
    out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return { text: out, secrets, secretPaths, plaintexts };
}

/** `Kind/name` of a decrypted document, when it has both. */
function objectId(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { kind, metadata } = doc as { kind?: unknown; metadata?: { name?: unknown } };
  const name = metadata?.name;
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : v instanceof SecretString ? v.reveal() : undefined;
  const k = text(kind);
  const n = text(name);
  return k === undefined || n === undefined ? undefined : `${k}/${n}`;
}

/** Same length, newlines kept, everything else a space. */
function blank(s: string): string {
  return s.replace(/[^\n]/g, ' ');
}

function walk(
  node: unknown,
  value: unknown,
  path: (string | number)[],
  visit: (node: unknown, value: unknown, path: (string | number)[]) => void,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') continue;
      const child =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      walk(pair.value, child, [...path, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) =>
      walk(item, Array.isArray(value) ? value[i] : undefined, [...path, i], visit),
    );
  } else visit(node, value, path);
}

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

/**
 * The informer's decryptor (runtime/informer deps.ts): SOPS with age. `identities` is read at
 * most once per revision, and only when a file needs a key.
 */
export class SopsManifestDecryptor implements ManifestDecryptor {
  readonly #identities: () => Promise<AgeIdentities | undefined>;

  constructor(identities: () => Promise<AgeIdentities | undefined>) {
    this.#identities = identities;
  }

  session(): DecryptSession {
    let loaded: Promise<AgeIdentities | undefined> | undefined;
    const identities = (): Promise<AgeIdentities | undefined> => (loaded ??= this.#identities());
    return {
      isEncrypted: hasSopsBlock,
      decryptFile: async (text) => decryptManifest(text, await identities()),
      rootSecrets: (text) => loadRootSecrets(text, identities),
      inlineValues: openInlineValues,
    };
  }
}
