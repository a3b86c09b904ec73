import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { isOrunError } from '../../apis/errors.ts';
import {
  SecretString,
  SopsErrorCode,
  decryptSopsDocument,
  decryptSopsDocuments,
  decryptSopsObject,
  decryptSopsSecrets,
  encryptSopsDocument,
  type EncryptOptions,
} from './index.ts';

let id = '';
let recipient = '';
beforeAll(async () => {
  id = await generateX25519Identity();
  recipient = await identityToRecipient(id);
});

const everyType = `# a head comment
name: web # a line comment
port: 8080
negative: -12
ratio: 1.5
whole: 2.0
huge: 1.0e+300
tiny: 0.000001
enabled: true
disabled: false
empty: ""
nothing:
unicode: "pässwörd ✓"
multiline: |
  line one
  line two
list:
  # a comment in a list
  - a
  - 3
  - false
  - nested: map
    in: list
nested:
  deep:
    deeper:
      x: y
`;

const everyTypePlain = {
  name: 'web',
  port: 8080,
  negative: -12,
  ratio: 1.5,
  whole: 2,
  huge: 1e300,
  tiny: 0.000001,
  enabled: true,
  disabled: false,
  empty: '',
  nothing: null,
  unicode: 'pässwörd ✓',
  multiline: 'line one\nline two\n',
  list: ['a', 3, false, { nested: 'map', in: 'list' }],
  nested: { deep: { deeper: { x: 'y' } } },
};

function opts(extra: Partial<EncryptOptions> = {}): EncryptOptions {
  return { recipients: [recipient], ...extra };
}

describe('encryptSopsDocument → decryptSopsDocument', () => {
  it('round-trips every value type, with comments', async () => {
    const enc = await encryptSopsDocument(everyType, opts());
    // The plaintext value is gone (`web` alone may occur by chance inside base64 ciphertext).
    expect(enc).not.toMatch(/^name: web/m);
    expect(enc).toMatch(/^name: ENC\[AES256_GCM,/m);
    expect(enc).not.toContain('line one');
    expect(enc).not.toContain('a head comment');
    expect(enc).toMatch(/^#ENC\[AES256_GCM,.*type:comment\]$/m);
    for (const type of ['str', 'int', 'float', 'bool']) expect(enc).toContain(`type:${type}]`);
    expect(enc).toContain('empty: ""');
    expect(await decryptSopsDocument(enc, [id])).toEqual(everyTypePlain);
  });

  it('round-trips a plain object and multi-document streams', async () => {
    const enc = await encryptSopsDocument(everyTypePlain, opts());
    expect(await decryptSopsDocument(enc, [id])).toEqual(everyTypePlain);
    const multi = await encryptSopsDocument('a: 1\n---\nb: two\n', opts());
    expect(await decryptSopsDocuments(multi, [id])).toEqual([{ a: 1 }, { b: 'two' }]);
    await expect(decryptSopsDocument(multi, [id])).rejects.toMatchObject({ code: SopsErrorCode.Malformed });
    // One MAC covers all documents: dropping the second is tampering.
    const first = multi.slice(0, multi.indexOf('\n---\n') + 1);
    await expect(decryptSopsDocuments(first, [id])).rejects.toMatchObject({
      code: SopsErrorCode.MacMismatch,
    });
  });

  it('keeps unencrypted_suffix keys (and everything under them) in clear text', async () => {
    const src = 'token: s3cret\nconfig_unencrypted:\n  level: debug\n  list: [1, 2]\n';
    const enc = await encryptSopsDocument(src, opts());
    expect(enc).toContain('level: debug');
    expect(enc).not.toContain('s3cret');
    expect(enc).toContain('unencrypted_suffix: _unencrypted');
    expect(await decryptSopsDocument(enc, [id])).toEqual(parse(src));
    const custom = await encryptSopsDocument('a_plain: x\nb: y\n', opts({ unencryptedSuffix: '_plain' }));
    expect(custom).toContain('a_plain: x');
    expect(await decryptSopsDocument(custom, [id])).toEqual({ a_plain: 'x', b: 'y' });
  });

  const deployment = `apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: web
spec:
  image: nginx:1.27
  env:
    DB_PASSWORD: hunter2
    PORT: 8080
    DEBUG: false
  ports:
    - containerPort: 80
      port: 8080
`;

  it('encrypts only env/data under encrypted_regex, and decryptSopsSecrets redacts them', async () => {
    const enc = await encryptSopsDocument(deployment, opts({ encryptedRegex: '^(env|data)$' }));
    expect(enc).toContain('image: nginx:1.27');
    expect(enc).toContain('name: web');
    expect(enc).toMatch(/DB_PASSWORD: ENC\[/);
    expect(enc).not.toContain('hunter2');
    expect(await decryptSopsDocument(enc, [id])).toEqual(parse(deployment));

    const parsed = parse(enc) as Record<string, unknown>;
    const [dep] = await decryptSopsSecrets([parsed], parsed['sops'], [id]);
    const env = (dep as { spec: { env: Record<string, SecretString> } }).spec.env;
    expect(Object.values(env).every((v) => v instanceof SecretString)).toBe(true);
    expect(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.reveal()]))).toEqual({
      DB_PASSWORD: 'hunter2',
      PORT: '8080',
      DEBUG: 'false',
    });
    expect(JSON.stringify(dep)).not.toContain('hunter2');
    expect((dep as { spec: { image: string } }).spec.image).toBe('nginx:1.27');
    // The fingerprint follows the ciphertext: stable across decryptions, different per value.
    const [again] = await decryptSopsSecrets([parsed], parsed['sops'], [id]);
    const env2 = (again as { spec: { env: Record<string, SecretString> } }).spec.env;
    expect(env2['DB_PASSWORD']?.fingerprint()).toBe(env['DB_PASSWORD']?.fingerprint());
    expect(env2['PORT']?.fingerprint()).not.toBe(env['DB_PASSWORD']?.fingerprint());
  });

  it.each([
    ['unencryptedRegex', { unencryptedRegex: '^(image|name)$' }, ['image: nginx:1.27', 'name: web']],
    ['encryptedSuffix', { encryptedSuffix: 'env' }, ['image: nginx:1.27', 'kind: Deployment']],
    ['encryptedRegex with (?i)', { encryptedRegex: '(?i)^ENV$' }, ['image: nginx:1.27']],
  ])('supports %s', async (_name, rule, clear) => {
    const enc = await encryptSopsDocument(deployment, opts(rule));
    for (const c of clear) expect(enc).toContain(c);
    expect(enc).not.toContain('hunter2');
    expect(await decryptSopsDocument(enc, [id])).toEqual(parse(deployment));
  });

  it('mac_only_encrypted: clear values are outside the MAC, encrypted ones inside', async () => {
    const src = 'secret: s\nnote_unencrypted: hi\n';
    const full = await encryptSopsDocument(src, opts());
    const only = await encryptSopsDocument(src, opts({ macOnlyEncrypted: true }));
    expect(only).toContain('mac_only_encrypted: true');
    expect(await decryptSopsDocument(only, [id])).toEqual({ secret: 's', note_unencrypted: 'hi' });
    const edit = (s: string): string => s.replace('note_unencrypted: hi', 'note_unencrypted: changed');
    expect(await decryptSopsDocument(edit(only), [id])).toEqual({ secret: 's', note_unencrypted: 'changed' });
    await expect(decryptSopsDocument(edit(full), [id])).rejects.toMatchObject({
      code: SopsErrorCode.MacMismatch,
    });
    // Flipping the flag is caught: the MAC-only hash is seeded differently.
    const flipped = only.replace('mac_only_encrypted: true', 'mac_only_encrypted: false');
    await expect(decryptSopsDocument(flipped, [id])).rejects.toMatchObject({
      code: SopsErrorCode.MacMismatch,
    });
  });

  it('wraps the data key for every recipient; each identity alone decrypts', async () => {
    const id2 = await generateX25519Identity();
    const enc = await encryptSopsDocument(
      'a: b\n',
      opts({ recipients: [recipient, await identityToRecipient(id2)] }),
    );
    expect(await decryptSopsDocument(enc, [id])).toEqual({ a: 'b' });
    expect(await decryptSopsDocument(enc, [id2])).toEqual({ a: 'b' });
  });

  it('writes lastmodified as sops does and binds it to the MAC', async () => {
    const enc = await encryptSopsDocument(
      'a: b\n',
      opts({ lastModified: new Date('2025-01-02T03:04:05.678Z') }),
    );
    expect(enc).toContain('lastmodified: "2025-01-02T03:04:05Z"');
    // Go re-formats RFC 3339 before using it as AAD: fractional seconds and +00:00 are the same instant.
    const alt = enc.replace('2025-01-02T03:04:05Z', '2025-01-02T03:04:05.9+00:00');
    expect(await decryptSopsDocument(alt, [id])).toEqual({ a: 'b' });
  });

  it('decryptSopsObject agrees with the text path', async () => {
    const enc = await encryptSopsDocument(everyType, opts());
    expect(await decryptSopsObject(parse(enc), [id])).toEqual(everyTypePlain);
  });

  it('refuses bad options', async () => {
    for (const o of [{ recipients: [] }, opts({ encryptedRegex: 'a', unencryptedSuffix: 'b' })]) {
      const err: unknown = await encryptSopsDocument('a: b\n', o).catch((e: unknown) => e);
      expect(isOrunError(err, SopsErrorCode.Malformed)).toBe(true);
    }
  });
});

// Keys that keep JS object order equal to file order (no integer-like keys), never `sops`.
const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/).filter((k) => k !== 'sops');
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.boolean(),
  fc.constant(null),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('tree'),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
}));

describe('property: any tree round-trips', () => {
  it('decrypt(encrypt(x)) = x for objects and their YAML text', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (t) => {
        const enc = await encryptSopsDocument(t, { recipients: [recipient] });
        expect(await decryptSopsDocument(enc, [id])).toEqual(t);
        const fromText = await encryptSopsDocument(stringify(t), { recipients: [recipient] });
        expect(await decryptSopsDocument(fromText, [id])).toEqual(t);
      }),
      { numRuns: 60 },
    );
  });
});
