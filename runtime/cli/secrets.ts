/**
 * What `orun secrets` does (the flags are in cmd/orun/secrets.ts): create and read the repository's SOPS files without the sops command (Debian
 * has none). Files are written in sops's own format (age recipients, MAC, lastmodified), so
 * the real sops reads them, and orun reads what sops writes.
 *
 *   encrypt FILE        whole file; recipients from --age or the nearest .sops.yaml creation_rules
 *   encrypt-value       an inline ENC[...] for one Deployment env key, under secrets.yaml's data key
 *   decrypt FILE        plaintext YAML on stdout (needs a key)
 *   edit FILE           $EDITOR on a plaintext copy in a tmpfs, encrypted again with the same data key
 *   check [FILE...]     decrypts and verifies MACs with the node's key; prints no value
 *   updatekeys FILE...  the data key wrapped for the recipients .sops.yaml names now (sops updatekeys)
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, statfs, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OrunError } from '../../apis/errors.ts';
import {
  type AgeIdentities,
  type EncryptOptions,
  type SopsMetadata,
  creationRuleFor,
  decryptSopsDocuments,
  decryptToYaml,
  encryptSopsDocument,
  findSopsConfig,
  loadAgeIdentities,
  openSopsFile,
  sealInline,
  updateKeys,
} from '../sops/index.ts';
import { DEFAULTS } from '../config/settings.ts';

/** `orun secrets encrypt FILE`: the whole file, printed or written in place. */
export async function encryptFile(file: string, o: EncryptFlags): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (/^sops:/m.test(text))
    throw new OrunError(
      'SopsAlreadyEncrypted',
      `secrets: ${file} is already encrypted (edit it with orun secrets edit)`,
    );
  const options = await encryptOptions(file, o);
  const out = await encryptSopsDocument(text, options);
  await output(file, out, o.inPlace === true);
}

/** `orun secrets encrypt-value`: an inline ENC[...] bound to one Deployment env key. */
export async function encryptValue(
  value: string | undefined,
  o: { deployment: string; key: string; secrets: string; ageKey?: string },
): Promise<void> {
  const plain = value ?? (await readStdin()).replace(/\r?\n$/, '');
  const { dataKey } = await openSopsFile(await readFile(o.secrets, 'utf8'), await keys(o.ageKey));
  const place = { kind: 'Deployment', name: o.deployment, path: ['spec', 'env', o.key] };
  process.stdout.write(`${sealInline(plain, dataKey, place)}\n`);
}

/** `orun secrets decrypt FILE`: the plaintext on stdout (MAC verified). */
export async function decryptFile(file: string, o: { ageKey?: string }): Promise<void> {
  const plain = await decryptToYaml(await readFile(file, 'utf8'), await keys(o.ageKey));
  process.stdout.write(plain.text);
}

/** `orun secrets edit FILE`. */
export async function editFile(file: string, o: { ageKey?: string; tmpDir: string }): Promise<void> {
  await edit(file, await keys(o.ageKey), o.tmpDir);
}

/** `orun secrets check [FILE...]`: one line a file, no value printed; exit code 1 on any failure. */
export async function checkFiles(files: string[], o: { ageKey?: string }): Promise<void> {
  const ids = await keys(o.ageKey);
  let failed = 0;
  for (const file of files.length === 0 ? ['secrets.yaml'] : files) {
    try {
      const docs = await decryptSopsDocuments(await readFile(file, 'utf8'), ids);
      process.stdout.write(
        `${file}: ok (MAC verified, ${docs.length} document${docs.length === 1 ? '' : 's'})\n`,
      );
    } catch (err) {
      failed++;
      const code = err instanceof OrunError ? `${err.code}: ` : '';
      process.stderr.write(`${file}: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (failed > 0) process.exitCode = 1;
}

/**
 * `orun secrets updatekeys FILE...`: wraps each file's data key for the recipients its
 * `.sops.yaml` creation rule (or `--age`) names now, as `sops updatekeys`: a node's key added to
 * `.sops.yaml` after the file was written can then open it. Values, MAC and data key stay, so
 * inline ENC[...] values keep working. Prints what changed per file; exit 1 on any failure.
 */
export async function updateFileKeys(
  files: string[],
  o: { age?: string[]; config?: string; ageKey?: string; yes?: boolean },
): Promise<void> {
  const ids = await keys(o.ageKey);
  let failed = 0;
  for (const file of files) {
    try {
      const { recipients } = await encryptOptions(file, o);
      const r = await updateKeys(await readFile(file, 'utf8'), ids, recipients);
      if (r.added.length === 0 && r.removed.length === 0) {
        process.stdout.write(`${file}: recipients unchanged\n`);
        continue;
      }
      // As sops asks before it drops a recipient: a wrong .sops.yaml (another directory's) or a
      // lone --age would otherwise lock out every node whose key is not named, silently.
      if (r.removed.length > 0 && o.yes !== true) {
        failed++;
        process.stderr.write(
          `${file}: would remove recipients ${r.removed.join(', ')}${r.added.length > 0 ? ` (and add ${r.added.join(', ')})` : ''}: ` +
            'whoever holds their keys could no longer decrypt it; nothing written. Run again with --yes to remove them\n',
        );
        continue;
      }
      await output(file, r.text, true);
      const changes = [...r.added.map((a) => `+${a}`), ...r.removed.map((a) => `-${a}`)];
      process.stdout.write(`${file}: recipients updated (${changes.join(', ')})\n`);
    } catch (err) {
      failed++;
      const code = err instanceof OrunError ? `${err.code}: ` : '';
      process.stderr.write(`${file}: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (failed > 0) process.exitCode = 1;
}

export interface EncryptFlags {
  age?: string[];
  config?: string;
  encryptedRegex?: string;
  unencryptedSuffix?: string;
  inPlace?: boolean;
}

async function encryptOptions(file: string, o: EncryptFlags): Promise<EncryptOptions> {
  const rule =
    o.age !== undefined
      ? { recipients: o.age }
      : await (async () => {
          const config = o.config ?? (await findSopsConfig(process.cwd()));
          if (config === undefined) {
            throw new OrunError('SopsNoKey', 'secrets: no --age recipient and no .sops.yaml found');
          }
          return creationRuleFor(config, file);
        })();
  return {
    ...rule,
    ...(o.encryptedRegex === undefined ? {} : { encryptedRegex: o.encryptedRegex }),
    ...(o.unencryptedSuffix === undefined ? {} : { unencryptedSuffix: o.unencryptedSuffix }),
  };
}

function keys(flagPath: string | undefined): Promise<AgeIdentities> {
  return loadAgeIdentities({
    ...(flagPath === undefined ? {} : { flagPath }),
    env: process.env,
    dataDir: process.env.ORUN_DATA_DIR ?? DEFAULTS.dataDir,
  });
}

/** The file's own rule, recipients and data key: editing changes values, not who can read them. */
function sameKeys(meta: SopsMetadata, dataKey: Buffer): EncryptOptions {
  const rule = meta.rule;
  const opt =
    rule.kind === 'unencrypted_suffix'
      ? { unencryptedSuffix: rule.value }
      : rule.kind === 'encrypted_suffix'
        ? { encryptedSuffix: rule.value }
        : rule.kind === 'unencrypted_regex'
          ? { unencryptedRegex: rule.value }
          : { encryptedRegex: rule.value };
  return {
    recipients: meta.age.map((a) => a.recipient).filter((r) => r !== ''),
    dataKey,
    ...opt,
    ...(meta.macOnlyEncrypted ? { macOnlyEncrypted: true } : {}),
  };
}

async function edit(file: string, ids: AgeIdentities, tmpRoot: string): Promise<void> {
  const fs = await statfs(tmpRoot);
  if (fs.type !== 0x01021994 && fs.type !== 0x858458f6) {
    throw new OrunError(
      'SecretsEditNotTmpfs',
      `secrets edit: ${tmpRoot} is not a tmpfs; refusing to write plaintext to disk (use --tmp-dir)`,
    );
  }
  const plain = await decryptToYaml(await readFile(file, 'utf8'), ids);
  const dir = await mkdtemp(join(tmpRoot, 'orun-secrets-'));
  const tmp = join(dir, 'plain.yaml');
  try {
    await writeFile(tmp, plain.text, { mode: 0o600 });
    const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi';
    const r = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'editor', tmp], { stdio: 'inherit' });
    if (r.status !== 0)
      throw new OrunError(
        'SecretsEditorFailed',
        `secrets edit: ${editor} exited with ${r.status ?? r.signal}`,
      );
    const edited = await readFile(tmp, 'utf8');
    if (edited === plain.text) {
      process.stderr.write(`${file}: unchanged\n`);
      return;
    }
    const out = await encryptSopsDocument(edited, sameKeys(plain.metadata, plain.dataKey));
    await output(file, out, true);
    process.stderr.write(`${file}: encrypted again\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function output(file: string, text: string, inPlace: boolean): Promise<void> {
  if (!inPlace) {
    process.stdout.write(text);
    return;
  }
  const mode = (await stat(file)).mode & 0o777;
  const tmp = join(dirname(file), `.${Date.now()}.orun-secrets.tmp`);
  // A new file (never through a link planted at that name), on disk before it replaces the old
  // one, and gone again if anything fails: the old file stays whole until the rename.
  try {
    await writeFile(tmp, text, { mode, flag: 'wx', flush: true });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
