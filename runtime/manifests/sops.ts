/**
 * What `orun validate` checks about secrets, the way the agent reads them:
 * - SOPS-encrypted manifests: without a key, their structure (metadata, every leaf the rule
 *   encrypts is a well-formed `ENC[...]`) and every non-secret field; with a key, decrypted with
 *   the MAC verified and every field checked (errors about an encrypted value never quote it);
 * - the root `secrets.yaml`: the same, and its top-level keys are what `secretKeyRef`,
 *   `secretFiles` and `envFrom` may name;
 * - inline `ENC[...]` env values of plain Deployments: well-formed; with a key, opened with the
 *   secrets.yaml data key for their place (a moved or changed value is an error at its line).
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { errorMessage } from '../../apis/errors.ts';
import {
  type AnyObject,
  type Locator,
  ManifestError,
  ManifestErrorCode,
  decodeManifestFile,
} from '../../apis/run.orcra.dev/v0alpha/index.ts';
import { SECRETS_FILE, hideSecretValues } from '../informer/secrets.ts';
import { decryptManifest, hasSopsBlock, loadRootSecrets, openInlineValues } from '../sops/manifest.ts';
import { type AgeIdentities, checkSopsStructure, isEncryptedValue } from '../sops/index.ts';
import type { LoadOptions, ManifestFile } from './load.ts';

export interface SecretsCheckOptions extends LoadOptions {
  /** Age identities (`--age-key`): decrypt and verify MACs. Default: none (structure only). */
  identities?: AgeIdentities;
}

/** Re-reads the repository's SOPS files (replacing their decode results) and checks secret references. */
export async function checkSecrets(
  dir: string,
  loaded: readonly { file: ManifestFile; locate: Locator }[],
  options: SecretsCheckOptions,
): Promise<{ loaded: { file: ManifestFile; locate: Locator }[]; errors: ManifestError[] }> {
  const ids = options.identities;
  const errors: ManifestError[] = [];
  const root = await rootSecrets(dir, ids, errors);
  const out: { file: ManifestFile; locate: Locator }[] = [];
  for (const entry of loaded) {
    // Only a file the decoder refused for its `sops:` key is read again (never a symlink or an
    // oversized file, whose errors say so).
    const sops = entry.file.errors.some(
      (e) => e.path === 'sops' && e.code === ManifestErrorCode.UnknownField,
    );
    const text = sops ? await readFile(join(dir, entry.file.path), 'utf8').catch(() => '') : '';
    const next = hasSopsBlock(text) ? await sopsFile(entry.file.path, text, ids, options) : entry;
    out.push(next);
    if (!hasSopsBlock(text)) inlineValues(next, root, errors);
    references(next, root, errors);
  }
  return { loaded: out, errors };
}

interface Root {
  present: boolean;
  keys: Set<string>;
  dataKey: Buffer | undefined;
}

async function rootSecrets(
  dir: string,
  ids: AgeIdentities | undefined,
  errors: ManifestError[],
): Promise<Root> {
  const path = join(dir, SECRETS_FILE);
  let text: string;
  try {
    if ((await lstat(path)).isSymbolicLink()) {
      errors.push(
        err(
          SECRETS_FILE,
          1,
          1,
          '',
          'is a symbolic link; links are never followed',
          ManifestErrorCode.ReadFailed,
        ),
      );
      return { present: true, keys: new Set(), dataKey: undefined };
    }
    text = await readFile(path, 'utf8');
  } catch {
    return { present: false, keys: new Set(), dataKey: undefined };
  }
  const structure = checkSopsStructure(text);
  for (const p of structure.problems)
    errors.push(err(SECRETS_FILE, p.line, p.col, p.path, `${p.code}: ${p.message}`));
  let keys = new Set<string>();
  try {
    const doc: unknown = parse(structure.masked);
    if (typeof doc === 'object' && doc !== null) keys = new Set(Object.keys(doc).filter((k) => k !== 'sops'));
  } catch {
    errors.push(err(SECRETS_FILE, 1, 1, '', 'not valid YAML'));
  }
  if (ids === undefined || structure.problems.length > 0) return { present: true, keys, dataKey: undefined };
  const { secrets, error } = await loadRootSecrets(text, () => Promise.resolve(ids));
  if (error !== undefined)
    errors.push(err(SECRETS_FILE, error.line, error.col, error.path, `${error.code}: ${error.message}`));
  return { present: true, keys, dataKey: secrets.state === 'ready' ? secrets.dataKey : undefined };
}

async function sopsFile(
  path: string,
  text: string,
  ids: AgeIdentities | undefined,
  options: LoadOptions,
): Promise<{ file: ManifestFile; locate: Locator }> {
  const decodeOpts = options.commit === undefined ? {} : { commit: options.commit };
  if (ids !== undefined) {
    try {
      const plain = await decryptManifest(text, ids);
      const decoded = decodeManifestFile(path, plain.text, decodeOpts);
      const errors = decoded.errors.map((e) => rebuild(hideSecretValues({ ...fields(e) }, plain)));
      return {
        file: { path, objects: decoded.objects, errors, warnings: decoded.warnings },
        locate: decoded.locate,
      };
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'SopsFailed';
      const error = err(path, 1, 1, 'sops', `${code}: ${errorMessage(e)}`);
      return { file: { path, objects: [], errors: [error], warnings: [] }, locate: () => undefined };
    }
  }
  const structure = checkSopsStructure(text);
  const decoded = decodeManifestFile(path, structure.masked, decodeOpts);
  const encrypted = structure.encryptedPaths.flat();
  const under = (p: string): boolean =>
    encrypted.some((e) => p === e || p.startsWith(`${e}.`) || p.startsWith(`${e}[`));
  const errors = [
    ...structure.problems.map((p) => err(path, p.line, p.col, p.path, `${p.code}: ${p.message}`)),
    // A value that is encrypted cannot be checked without the key.
    ...decoded.errors.filter((e) => !under(e.path)),
  ];
  return {
    file: { path, objects: decoded.objects, errors, warnings: decoded.warnings },
    locate: decoded.locate,
  };
}

function inlineValues(
  entry: { file: ManifestFile; locate: Locator },
  root: Root,
  errors: ManifestError[],
): void {
  for (const obj of entry.file.objects) {
    for (const [key, value] of Object.entries(envOf(obj))) {
      if (!isEncryptedValue(value)) continue;
      const at = entry.locate(obj, ['spec', 'env', key]) ?? { line: 1, col: 1 };
      if (!root.present) {
        errors.push(
          err(
            entry.file.path,
            at.line,
            at.col,
            `spec.env.${key}`,
            'an inline ENC[...] value needs the data key of the root secrets.yaml, and there is none',
            ManifestErrorCode.MissingSecret,
          ),
        );
      }
    }
  }
  if (root.dataKey === undefined) return;
  const opened = openInlineValues(entry.file, root.dataKey, entry.locate);
  for (const e of opened.errors) errors.push(err(e.file, e.line, e.col, e.path, `${e.code}: ${e.message}`));
}

function references(
  entry: { file: ManifestFile; locate: Locator },
  root: Root,
  errors: ManifestError[],
): void {
  for (const obj of entry.file.objects) {
    if (obj.kind !== 'Deployment') continue;
    const refs: [string, (string | number)[]][] = [];
    for (const [k, v] of Object.entries(envOf(obj))) {
      if (typeof v === 'object' && v !== null && 'secretKeyRef' in v)
        refs.push([String(v.secretKeyRef), ['spec', 'env', k, 'secretKeyRef']]);
    }
    obj.spec.secretFiles?.forEach((f, i) => refs.push([f.key, ['spec', 'secretFiles', i, 'key']]));
    if ((obj.spec.envFrom ?? []).length > 0 && !root.present) {
      const at = entry.locate(obj, ['spec', 'envFrom']) ?? { line: 1, col: 1 };
      errors.push(
        err(
          entry.file.path,
          at.line,
          at.col,
          'spec.envFrom',
          'there is no secrets.yaml at the repository root',
          ManifestErrorCode.MissingSecret,
        ),
      );
    }
    for (const [key, path] of refs) {
      if (root.keys.has(key)) continue;
      const at = entry.locate(obj, path) ?? { line: 1, col: 1 };
      const why = root.present
        ? `secrets.yaml has no top-level key "${key}"`
        : 'there is no secrets.yaml at the repository root';
      errors.push(
        err(entry.file.path, at.line, at.col, pathText(path), why, ManifestErrorCode.MissingSecret),
      );
    }
  }
}

function envOf(obj: AnyObject): Record<string, unknown> {
  return obj.kind === 'Deployment' ? obj.spec.env : {};
}

function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function fields(e: ManifestError): {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  code: ManifestErrorCode;
} {
  return { file: e.file, line: e.line, col: e.col, path: e.path, message: e.message, code: e.code };
}

function rebuild(e: ReturnType<typeof fields>): ManifestError {
  return new ManifestError(e);
}

function err(
  file: string,
  line: number,
  col: number,
  path: string,
  message: string,
  code: ManifestErrorCode = ManifestErrorCode.Sops,
): ManifestError {
  return new ManifestError({ file, line, col, path, message, code });
}
