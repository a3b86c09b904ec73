import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { AgeKeyring, SopsErrorCode, loadAgeIdentities, parseAgeKeyFile, type KeyPathTried } from './index.ts';

let dir = '';
let idA = '';
let idB = '';
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orun-sops-age-'));
  idA = await generateX25519Identity();
  idB = await generateX25519Identity();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, ...ids: string[]): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    ids.map((id) => `# created: 2025-01-01T00:00:00Z\n# public key: x\n${id}\n\n`).join(''),
  );
  return path;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('parseAgeKeyFile', () => {
  it('reads several identities, skipping comments and blank lines', async () => {
    const ring = await parseAgeKeyFile(`# age-keygen output\n${idA}\r\n\n  ${idB}  \n`, 'keys.txt');
    expect(ring.identities()).toEqual([idA, idB]);
  });

  it('names the bad line number but never its content', async () => {
    const err = await caught(parseAgeKeyFile(`${idA}\n${idB.slice(0, -3)}xyz\n`, 'keys.txt'));
    expect(isOrunError(err, SopsErrorCode.NoKey)).toBe(true);
    expect((err as Error).message).toContain('line 2');
    expect((err as Error).message).not.toContain(idB.slice(0, 20));
  });
});

describe('loadAgeIdentities', () => {
  it.each([
    ['flag first', { flag: true, env: true, data: true }, 'flag'],
    ['then SOPS_AGE_KEY_FILE', { flag: false, env: true, data: true }, 'env'],
    ['then <dataDir>/keys/age.key', { flag: false, env: false, data: true }, 'data'],
  ])('%s', async (_name, present, want) => {
    const paths = {
      flag: present.flag ? keyFile('flag.key', idA) : join(dir, 'missing-flag.key'),
      env: present.env ? keyFile('env.key', idB) : undefined,
      data: present.data ? keyFile('data/keys/age.key', idA, idB) : undefined,
    };
    const ring = await loadAgeIdentities({
      ...(present.flag ? { flagPath: paths.flag } : {}),
      env: { SOPS_AGE_KEY_FILE: paths.env },
      dataDir: join(dir, 'data'),
    });
    const expected = { flag: [idA], env: [idB], data: [idA, idB] }[want];
    expect(ring.identities()).toEqual(expected);
    expect(ring.origin).toBe({ flag: paths.flag, env: paths.env, data: paths.data }[want]);
  });

  it('falls through missing and empty files and names every path tried', async () => {
    writeFileSync(join(dir, 'empty.key'), '# nothing here\n');
    const err = await caught(
      loadAgeIdentities({
        flagPath: join(dir, 'nope.key'),
        env: { SOPS_AGE_KEY_FILE: join(dir, 'empty.key') },
        dataDir: join(dir, 'data'),
      }),
    );
    expect(isOrunError(err, SopsErrorCode.NoKey)).toBe(true);
    const e = err as Error & { context: { tried: KeyPathTried[] } };
    expect(e.context.tried).toEqual([
      { source: '--age-key-path', path: join(dir, 'nope.key'), result: 'not found' },
      { source: 'SOPS_AGE_KEY_FILE', path: join(dir, 'empty.key'), result: 'no identities' },
      { source: 'dataDir', path: join(dir, 'data', 'keys', 'age.key'), result: 'not found' },
    ]);
    for (const t of e.context.tried) expect(e.message).toContain(t.path);
  });

  it('uses process.env by default and stops at an unreadable file', async () => {
    const path = keyFile('locked.key', idA);
    chmodSync(path, 0o000);
    const isRoot = process.getuid?.() === 0;
    const result = await caught(loadAgeIdentities({ flagPath: path, dataDir: dir }));
    if (isRoot)
      expect(result).toBeUndefined(); // root reads anything: the flag file wins
    else expect(isOrunError(result, SopsErrorCode.NoKey)).toBe(true);
  });
});

describe('AgeKeyring', () => {
  it('never prints its keys', async () => {
    const ring = new AgeKeyring([idA, idB], '/opt/orun/keys/age.key');
    for (const printed of [
      JSON.stringify(ring),
      inspect(ring),
      `${String(ring)}`,
      inspect({ ring }, { depth: 5 }),
    ]) {
      expect(printed).not.toContain('AGE-SECRET-KEY');
      expect(printed).toContain('/opt/orun/keys/age.key');
    }
    expect(await ring.recipients()).toEqual([await identityToRecipient(idA), await identityToRecipient(idB)]);
  });
});
