/**
 * The `sops:` metadata block (getsops/sops `stores/stores.go`) and the rules it sets for which
 * leaves are encrypted (`sops.go` `shouldBeEncrypted`).
 */
import { SopsErrorCode, sopsError } from './errors.ts';

/** One age recipient entry: the data key wrapped for `recipient`, ASCII-armored. */
export interface SopsAgeEntry {
  readonly recipient: string;
  readonly enc: string;
}

/** The encryption rule of a file. At most one is set; none means `unencrypted_suffix: _unencrypted`. */
export type SopsRule =
  | { readonly kind: 'unencrypted_suffix'; readonly value: string }
  | { readonly kind: 'encrypted_suffix'; readonly value: string }
  | { readonly kind: 'unencrypted_regex'; readonly value: string }
  | { readonly kind: 'encrypted_regex'; readonly value: string };

export interface SopsMetadata {
  /** `lastmodified` exactly as written. */
  readonly lastModified: string;
  /** `lastmodified` re-formatted as Go's RFC 3339 (what sops uses as the MAC's AAD). */
  readonly macAad: string;
  /** The encrypted MAC (`ENC[...]`), or '' when missing. */
  readonly mac: string;
  readonly rule: SopsRule;
  readonly macOnlyEncrypted: boolean;
  readonly version: string;
  readonly age: readonly SopsAgeEntry[];
}

/** The suffix sops applies when a file names no rule. */
export const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';

const RULE_KEYS = ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex'] as const;

function malformed(path: string, why: string): Error {
  return sopsError(SopsErrorCode.Malformed, `metadata: ${path}: ${why}`, { context: { path } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(m: Record<string, unknown>, key: string): string {
  const v = m[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw malformed(`sops.${key}`, 'must be a string');
  return v;
}

/** Validates a parsed `sops:` block. */
export function parseSopsMetadata(raw: unknown): SopsMetadata {
  if (!isRecord(raw)) {
    throw sopsError(SopsErrorCode.Malformed, 'metadata: no `sops` mapping in the document', {
      context: { path: 'sops' },
    });
  }
  for (const key of ['unencrypted_comment_regex', 'encrypted_comment_regex']) {
    if (optString(raw, key) !== '') {
      throw sopsError(SopsErrorCode.Unsupported, `metadata: sops.${key} is not supported`, {
        context: { path: `sops.${key}` },
      });
    }
  }
  const lastModified = optString(raw, 'lastmodified');
  const rules = RULE_KEYS.filter((k) => optString(raw, k) !== '');
  if (rules.length > 1) throw malformed('sops', `more than one of ${rules.join(', ')}`);
  const kind = rules[0] ?? 'unencrypted_suffix';
  const rule: SopsRule = {
    kind,
    value: rules[0] === undefined ? DEFAULT_UNENCRYPTED_SUFFIX : optString(raw, kind),
  };
  if (kind.endsWith('_regex')) compileGoRegex(rule.value, `sops.${kind}`);
  const macOnly = raw['mac_only_encrypted'];
  if (macOnly !== undefined && macOnly !== null && typeof macOnly !== 'boolean') {
    throw malformed('sops.mac_only_encrypted', 'must be a boolean');
  }
  return {
    lastModified,
    macAad: goRfc3339(lastModified),
    mac: optString(raw, 'mac'),
    rule,
    macOnlyEncrypted: macOnly === true,
    version: optString(raw, 'version'),
    age: ageEntries(raw),
  };
}

function ageEntries(raw: Record<string, unknown>): SopsAgeEntry[] {
  let list: unknown = raw['age'];
  let where = 'sops.age';
  const groups = raw['key_groups'];
  if ((list === undefined || list === null) && Array.isArray(groups) && groups.length > 0) {
    if (groups.length > 1) {
      throw sopsError(SopsErrorCode.Unsupported, 'metadata: Shamir key groups are not supported', {
        context: { path: 'sops.key_groups' },
      });
    }
    const group: unknown = groups[0];
    list = isRecord(group) ? group['age'] : undefined;
    where = 'sops.key_groups[0].age';
  }
  if (list === undefined || list === null) list = [];
  if (!Array.isArray(list)) throw malformed(where, 'must be a list');
  return list.map((e: unknown, i) => {
    if (!isRecord(e)) throw malformed(`${where}[${i}]`, 'must be a mapping');
    const recipient = optString(e, 'recipient');
    const enc = optString(e, 'enc');
    if (enc === '') throw malformed(`${where}[${i}].enc`, 'missing');
    return { recipient, enc };
  });
}

/**
 * Go's `time.Parse(time.RFC3339, s).Format(time.RFC3339)`: fractional seconds dropped and a zero
 * offset written `Z`. A value Go would not parse is returned unchanged (its MAC then fails).
 */
export function goRfc3339(s: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (m === null) return s;
  const [, date = '', time = '', zone = ''] = m;
  const offset = zone === 'Z' || /^[+-]00:00$/.test(zone) ? 'Z' : zone;
  return `${date}T${time}${offset}`;
}

/** Formats a Date the way sops writes `lastmodified`. */
export function formatLastModified(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Compiles an RE2 pattern as a JS RegExp. Leading inline flags (`(?i)`, `(?s)`, `(?m)`, as
 * commonly used in `.sops.yaml`) become RegExp flags; other RE2-only syntax is rejected.
 */
export function compileGoRegex(pattern: string, where: string): RegExp {
  let flags = '';
  let source = pattern;
  const m = /^\(\?([ims]+)\)/.exec(pattern);
  if (m !== null) {
    flags = [...new Set(m[1])].join('');
    source = pattern.slice(m[0].length);
  }
  try {
    return new RegExp(source, flags);
  } catch (cause) {
    throw sopsError(SopsErrorCode.Malformed, `metadata: ${where}: not a valid regular expression`, {
      cause,
      context: { path: where },
    });
  }
}

/** Decides, per sops' `shouldBeEncrypted`, whether the leaf at the map-key `path` is encrypted. */
export function encryptionRule(rule: SopsRule): (path: readonly string[]) => boolean {
  switch (rule.kind) {
    case 'unencrypted_suffix':
      return (path) => !path.some((k) => k.endsWith(rule.value));
    case 'encrypted_suffix':
      return (path) => path.some((k) => k.endsWith(rule.value));
    case 'unencrypted_regex': {
      const re = compileGoRegex(rule.value, 'sops.unencrypted_regex');
      return (path) => !path.some((k) => re.test(k));
    }
    case 'encrypted_regex': {
      const re = compileGoRegex(rule.value, 'sops.encrypted_regex');
      return (path) => path.some((k) => re.test(k));
    }
  }
}

/** The AAD sops binds a value to: the map keys joined with `:`, plus a trailing `:`. */
export function pathAad(path: readonly string[]): string {
  return `${path.join(':')}:`;
}
