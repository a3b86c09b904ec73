/**
 * Cross-checks the sops adapter against the real `age` tool (Debian's age 1.1.1): the data key our
 * encryptor wraps is opened by `age -d`, and a key wrapped by `age -e -a` is opened by us.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  decryptDataKey,
  decryptSopsDocument,
  encryptSopsDocument,
  parseSopsMetadata,
  wrapDataKey,
} from '../../runtime/sops/index.ts';
import { requireCommand } from '../support/services.ts';

const testdata = new URL('../../runtime/sops/testdata/', import.meta.url);
let dir = '';
let idFile = '';
let identity = '';
let recipient = '';

function age(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('age', args, { input, timeout: 20_000 });
}

beforeAll(() => {
  requireCommand('the age CLI', 'age', ['--version']);
  requireCommand('age-keygen', 'age-keygen', ['--help']);
  dir = mkdtempSync(join(tmpdir(), 'orun-sops-cli-'));
  idFile = join(dir, 'id.txt');
  // A key file written by the real age-keygen, comments and all.
  execFileSync('age-keygen', ['-o', idFile], { stdio: 'ignore' });
  const lines = readFileSync(idFile, 'utf8').split('\n');
  identity = lines.find((l) => l.startsWith('AGE-SECRET-KEY-1')) ?? '';
  recipient = execFileSync('age-keygen', ['-y', idFile]).toString().trim();
});
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('age CLI interop', () => {
  it('age -d opens the data key our encryptor wrapped', async () => {
    const dataKey = randomBytes(32);
    const text = await encryptSopsDocument('password: hunter2\n', { recipients: [recipient], dataKey });
    const meta = parseSopsMetadata((parse(text) as { sops: unknown }).sops);
    const encFile = join(dir, 'datakey.age');
    writeFileSync(encFile, meta.age[0]?.enc ?? '');
    expect(age(['-d', '-i', idFile, encFile]).equals(dataKey)).toBe(true);
  });

  it('we open a data key that age -e -a wrapped, and decrypt the document with it', async () => {
    const dataKey = randomBytes(32);
    const text = await encryptSopsDocument('password: hunter2\nport: 5432\n', {
      recipients: [recipient],
      dataKey,
    });
    const cliEnc = age(['-e', '-a', '-r', recipient], dataKey).toString();
    expect(cliEnc).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    const meta = parseSopsMetadata((parse(text) as { sops: unknown }).sops);
    expect((await decryptDataKey([{ recipient, enc: cliEnc }], [identity])).equals(dataKey)).toBe(true);
    // Swap the CLI's wrapping into the file: the key is the same, so the file still verifies.
    const ours = meta.age[0]?.enc ?? '';
    const indented = (s: string): string => s.trimEnd().split('\n').join('\n        ');
    const swapped = text.replace(indented(ours), indented(cliEnc));
    expect(swapped).not.toBe(text);
    expect(await decryptSopsDocument(swapped, [identity])).toEqual({ password: 'hunter2', port: 5432 });
  });

  it('age -d and our decryptor agree on the real vector data key', async () => {
    const vector = readFileSync(new URL('example.age.yaml', testdata), 'utf8');
    const meta = parseSopsMetadata((parse(vector) as { sops: unknown }).sops);
    const vectorId = new URL('id.txt', testdata).pathname;
    const encFile = join(dir, 'vector.age');
    writeFileSync(encFile, meta.age[0]?.enc ?? '');
    const cliKey = age(['-d', '-i', vectorId, encFile]);
    expect(cliKey).toHaveLength(32);
    const ourKey = await decryptDataKey(meta.age, [readFileSync(vectorId, 'utf8').trim()]);
    expect(ourKey.equals(cliKey)).toBe(true);
  });

  it('wrapDataKey output is accepted by age -d', async () => {
    const dataKey = randomBytes(32);
    const encFile = join(dir, 'wrapped.age');
    writeFileSync(encFile, await wrapDataKey(recipient, dataKey));
    expect(age(['-d', '-i', idFile, encFile]).equals(dataKey)).toBe(true);
  });
});
