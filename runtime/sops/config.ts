/**
 * `.sops.yaml` creation rules (getsops/sops `config/config.go`): the first rule whose
 * `path_regex` matches the file decides its age recipients and which leaves are encrypted.
 * Only the age parts are read; a rule with only pgp/kms keys has no recipient for orun.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { SopsErrorCode, sopsError } from './errors.ts';
import { compileGoRegex } from './metadata.ts';

/** What a creation rule says about one file (the EncryptOptions it implies). */
export interface CreationRule {
  recipients: string[];
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  macOnlyEncrypted?: boolean;
}

/**
 * The nearest `.sops.yaml` at or above `from` (as sops searches from the working directory up),
 * or undefined when there is none.
 */
export async function findSopsConfig(from: string): Promise<string | undefined> {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, '.sops.yaml');
    try {
      await readFile(candidate);
      return candidate;
    } catch {
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
}

/**
 * The creation rule for `file` in the config at `configPath`: the first whose `path_regex`
 * matches the file's path relative to the config's directory (or as given); a rule without
 * `path_regex` matches every file. Throws `SopsMalformed` for a bad config, `SopsUnsupported`
 * when the matching rule has no age recipient, `SopsNoKey` when no rule matches.
 */
export async function creationRuleFor(configPath: string, file: string): Promise<CreationRule> {
  const doc: unknown = parse(await readFile(configPath, 'utf8'));
  const rules = (doc as { creation_rules?: unknown } | null)?.creation_rules;
  if (!Array.isArray(rules)) {
    throw sopsError(SopsErrorCode.Malformed, `${configPath}: creation_rules must be a list`);
  }
  const rel = relative(dirname(resolve(configPath)), resolve(file));
  for (const [i, raw] of rules.entries()) {
    if (typeof raw !== 'object' || raw === null) {
      throw sopsError(SopsErrorCode.Malformed, `${configPath}: creation_rules[${i}] must be a mapping`);
    }
    const r = raw as Record<string, unknown>;
    const pattern = typeof r['path_regex'] === 'string' ? r['path_regex'] : undefined;
    if (pattern !== undefined) {
      const re = compileGoRegex(pattern, `${configPath}: creation_rules[${i}].path_regex`);
      if (!re.test(rel) && !re.test(file)) continue;
    }
    return ruleOf(r, `${configPath}: creation_rules[${i}]`);
  }
  throw sopsError(SopsErrorCode.NoKey, `${configPath}: no creation rule matches ${rel}`);
}

function ruleOf(r: Record<string, unknown>, where: string): CreationRule {
  const age = r['age'];
  const recipients = (Array.isArray(age) ? age.map(String) : typeof age === 'string' ? age.split(',') : [])
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (recipients.length === 0) {
    throw sopsError(SopsErrorCode.Unsupported, `${where}: no age recipient (only age keys are supported)`);
  }
  const out: CreationRule = { recipients };
  const str = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
  const set = <K extends keyof CreationRule>(k: K, v: CreationRule[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('unencryptedSuffix', str('unencrypted_suffix'));
  set('encryptedSuffix', str('encrypted_suffix'));
  set('unencryptedRegex', str('unencrypted_regex'));
  set('encryptedRegex', str('encrypted_regex'));
  if (r['mac_only_encrypted'] === true) out.macOnlyEncrypted = true;
  return out;
}
