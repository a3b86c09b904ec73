/**
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
import { Redactor } from '../log/index.ts';
import { decryptSopsDocuments, isEncryptedValue, SecretString, type AgeIdentities } from '../sops/index.ts';

/** True when the text has a top-level `sops:` block (cheap test before parsing). */
export function hasSopsBlock(text: string): boolean {
  return /^sops:/m.test(text);
}

export interface DecryptedManifest {
  /** The text to decode: same lines as the original. */
  text: string;
  /** `ENC[...]` ciphertext of each secret env value → its plaintext. */
  secrets: Map<string, SecretString>;
  /**
   * Paths (`metadata.annotations.db`, `spec.ports[0].port`) of the values that were
   * encrypted and are decrypted in place, by object (`Kind/name`): outputs redact them.
   */
  secretPaths: Map<string, string[]>;
  /** Those values' plaintexts, for redacting free text (messages that quote a value). */
  plaintexts: string[];
}

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
  const docs = parseAllDocuments(text);
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
 * An error about a value that was encrypted in Git never quotes it: the message of an error at
 * (or under) a decrypted path is replaced, and any decrypted value in other messages is masked.
 */
export function hideSecretValues<E extends { path: string; message: string }>(
  e: E,
  plain: Pick<DecryptedManifest, 'secretPaths' | 'plaintexts'>,
): E {
  const encrypted = [...plain.secretPaths.values()]
    .flat()
    .some((p) => e.path === p || e.path.startsWith(`${p}.`) || e.path.startsWith(`${p}[`));
  if (encrypted) return { ...e, message: 'invalid value (encrypted in Git; not shown)' };
  const r = new Redactor();
  r.add(...plain.plaintexts);
  return { ...e, message: r.redact(e.message) };
}
