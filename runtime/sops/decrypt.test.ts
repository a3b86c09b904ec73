import { readFileSync } from 'node:fs';
import { generateX25519Identity } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isOrunError } from '../../apis/errors.ts';
import {
  AgeKeyring,
  SecretString,
  SopsErrorCode,
  decryptSopsDocument,
  decryptSopsObject,
  decryptSopsSecrets,
  isSopsDocument,
} from './index.ts';

// getsops/sops's own example.yaml, encrypted by the real sops; data key re-wrapped for age.
const dir = new URL('./testdata/', import.meta.url);
const vector = readFileSync(new URL('example.age.yaml', dir), 'utf8');
const tampered = readFileSync(new URL('tampered.age.yaml', dir), 'utf8');
const identity = readFileSync(new URL('id.txt', dir), 'utf8').trim();
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, unknown>;
const secrets = Object.values(expected).filter((v): v is string => typeof v === 'string');

function at(tree: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], tree);
}

/** Runs `fn`, expects an OrunError with `code`, and checks it carries no secret or key. */
async function expectSopsError(fn: () => Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(isOrunError(caught), `expected an OrunError, got ${String(caught)}`).toBe(true);
  if (!isOrunError(caught)) throw new Error('unreachable');
  expect(caught.code).toBe(code);
  const printed = `${caught.message} ${JSON.stringify(caught.context)}`;
  for (const s of [...secrets, identity]) expect(printed).not.toContain(s);
  return caught;
}

describe('the real sops vector', () => {
  it.each(Object.entries(expected))('decrypts %s', async (path, value) => {
    const plain = await decryptSopsDocument(vector, [identity]);
    expect(at(plain, path)).toEqual(value);
  });

  it('keeps unencrypted_suffix subtrees, removes sops metadata, decodes float', async () => {
    const plain = (await decryptSopsDocument(vector, [identity])) as Record<string, unknown>;
    expect(plain['sops']).toBeUndefined();
    expect(plain['somelist_unencrypted']).toEqual([
      'all elements of this list',
      'remain in clear text',
      'because of the _unencrypted suffix in the key',
    ]);
    expect(at(plain, 'nested_unencrypted.this.is.all')).toBe('going to remain in clear text');
    expect(typeof plain['number']).toBe('number');
    expect(Object.keys(plain)).toEqual([
      'myapp1',
      'app2',
      'number',
      'an_array',
      'somebooleans',
      'this',
      'somelist_unencrypted',
      'nested_unencrypted',
    ]);
  });

  it('accepts an AgeIdentitySource', async () => {
    const plain = await decryptSopsDocument(vector, new AgeKeyring([identity], 'test'));
    expect(at(plain, 'app2.db.user')).toBe('eve');
  });

  it('decrypts an already-parsed object', async () => {
    const parsed: unknown = parse(vector);
    expect(isSopsDocument(parsed)).toBe(true);
    expect(at(await decryptSopsObject(parsed, [identity]), 'app2.db.password')).toBe('c4r1b0u');
  });

  it('returns SecretStrings for encrypted leaves only, from parsed docs plus metadata', async () => {
    const parsed = parse(vector) as Record<string, unknown>;
    const [doc] = await decryptSopsSecrets([parsed], parsed['sops'], [identity]);
    const pw = at(doc, 'app2.db.password');
    expect(pw).toBeInstanceOf(SecretString);
    expect((pw as SecretString).reveal()).toBe('c4r1b0u');
    expect((at(doc, 'somebooleans') as SecretString[]).map((s) => [s.sopsType, s.reveal()])).toEqual([
      ['bool', 'true'],
      ['bool', 'false'],
    ]);
    expect(at(doc, 'nested_unencrypted.this.is.all')).toBe('going to remain in clear text');
    expect(JSON.stringify(doc)).not.toContain('c4r1b0u');
    expect(parsed['app2']).toHaveProperty('db.password', expect.stringMatching(/^ENC\[/)); // input untouched
  });
});

describe('tampering and bad input', () => {
  it('rejects the tampered twin with SopsMacMismatch', async () => {
    const err = await expectSopsError(
      () => decryptSopsDocument(tampered, [identity]),
      SopsErrorCode.MacMismatch,
    );
    expect(err.message).toContain('app2.db.password');
  });

  const edits: [string, (s: string) => string, string][] = [
    [
      'an unencrypted value changed',
      (s) => s.replace('remain in clear text', 'remain in clear text!'),
      SopsErrorCode.MacMismatch,
    ],
    ['a key removed', (s) => s.replace(/^number: .*\n/m, ''), SopsErrorCode.MacMismatch],
    [
      'two encrypted values swapped (AAD binds the path)',
      (s) => {
        const user = /user: (ENC\[.*\])/.exec(s)?.[1] ?? '';
        const pw = /password: (ENC\[.*\])/.exec(s)?.[1] ?? '';
        return s.replace(user, '@@').replace(pw, user).replace('@@', pw);
      },
      SopsErrorCode.MacMismatch,
    ],
    ['two list items swapped', (s) => swapLines(s, 'vyczE8', 'XtBinn'), SopsErrorCode.MacMismatch],
    [
      'lastmodified changed',
      (s) => s.replace('2025-08-06T18:55:05Z', '2025-08-06T18:55:06Z'),
      SopsErrorCode.MacMismatch,
    ],
    ['mac removed', (s) => s.replace(/^ {2}mac: .*\n/m, ''), SopsErrorCode.MacMismatch],
    ['a new plaintext key added', (s) => `extra: value\n${s}`, SopsErrorCode.MacMismatch],
    ['a value type rewritten', (s) => s.replace('type:float]', 'type:nope]'), SopsErrorCode.Malformed],
    ['bad base64 in a value', (s) => s.replace('data:tQ1l,', 'data:t!1l,'), SopsErrorCode.Malformed],
    ['no sops metadata', (s) => s.slice(0, s.indexOf('sops:')), SopsErrorCode.Malformed],
    ['not YAML', () => 'a: [1, 2\n', SopsErrorCode.Malformed],
    [
      'two encryption rules',
      (s) => s.replace('unencrypted_suffix: _unencrypted', 'unencrypted_suffix: _u\n  encrypted_regex: x'),
      SopsErrorCode.Malformed,
    ],
    [
      'comment regexes',
      (s) => s.replace('  version:', '  encrypted_comment_regex: sops\n  version:'),
      SopsErrorCode.Unsupported,
    ],
  ];

  it.each(edits)('rejects %s', async (_name, edit, code) => {
    const edited = edit(vector);
    expect(edited).not.toBe(vector);
    await expectSopsError(() => decryptSopsDocument(edited, [identity]), code);
  });

  it('rejects a duplicate key at its line (checked in one pass, not by the quadratic library check)', async () => {
    const err = await expectSopsError(
      () => decryptSopsDocument(`a: 1\nb: 2\na: 3\n${vector}`, [identity]),
      SopsErrorCode.Malformed,
    );
    expect(err.message).toContain('YAML at 3:1: DUPLICATE_KEY');
  });

  it('names the path of a malformed value', async () => {
    const err = await expectSopsError(
      () => decryptSopsDocument(vector.replace('type:float]', 'type:nope]'), [identity]),
      SopsErrorCode.Malformed,
    );
    expect((err as unknown as { context: { path: string } }).context.path).toBe('number');
  });

  it('rejects a wrong identity with SopsNoMatchingKey, naming recipients only', async () => {
    const wrong = await generateX25519Identity();
    const err = await expectSopsError(
      () => decryptSopsDocument(vector, [wrong]),
      SopsErrorCode.NoMatchingKey,
    );
    expect(err.message).toContain('age12zjrkaulv68dzdya4nc5wzk0ssft8qfuj5x8dnzq5yqef23zpvtqck7ra7');
    expect(err.message).not.toContain(wrong);
    // What to do about it (a node's key left out of .sops.yaml is the common case).
    expect(err.message).toContain('add its recipient to .sops.yaml and run `orun secrets updatekeys FILE`');
  });

  it('rejects an empty identity list with SopsNoKey and a malformed identity likewise', async () => {
    await expectSopsError(() => decryptSopsDocument(vector, []), SopsErrorCode.NoKey);
    await expectSopsError(() => decryptSopsDocument(vector, ['AGE-SECRET-KEY-1NOPE']), SopsErrorCode.NoKey);
  });

  it('finds the key when a matching identity is one of several', async () => {
    const other = await generateX25519Identity();
    expect(at(await decryptSopsDocument(vector, [other, identity]), 'myapp1')).toBe('t00m4nys3cr3tzupdated');
  });
});

function swapLines(s: string, a: string, b: string): string {
  const lines = s.split('\n');
  const i = lines.findIndex((l) => l.includes(a));
  const j = lines.findIndex((l) => l.includes(b));
  const li = lines[i] ?? '';
  lines[i] = lines[j] ?? '';
  lines[j] = li;
  return lines.join('\n');
}
