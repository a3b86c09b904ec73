import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KnownHosts, fingerprint, hostEntryName, keyTypeOf, matchesPatterns } from './knownhosts.ts';
import type { HostKey } from './knownhosts.ts';

function blob(type: string, body = randomBytes(32)): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const blen = Buffer.alloc(4);
  blen.writeUInt32BE(body.length);
  return Buffer.concat([len, t, blen, body]);
}
const key = (type = 'ssh-ed25519'): HostKey => ({ type, blob: blob(type) });
const line = (names: string, k: HostKey) => `${names} ${k.type} ${k.blob.toString('base64')}`;
function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orun-kh-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('known_hosts', () => {
  it('reads the key type and formats the fingerprint (test/bootstrap checks it against ssh-keygen -l)', () => {
    const k = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIBsPkZ6Bf1Wk9xjOjQbJ2U9nvEIQfyXq5ZbVZ3x9g1jR', 'base64');
    expect(keyTypeOf(k)).toBe('ssh-ed25519');
    expect(fingerprint(k)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it.each([
    ['h.example', 22, 'h.example', true],
    ['h.example', 2222, '[h.example]:2222', true],
    ['h.example', 2222, 'h.example', false],
    ['H.Example', 22, 'h.example', true],
    ['web1.example', 22, '*.example', true],
    ['web1.example', 22, 'web?.example', true],
    ['web1.example', 22, '*.example,!web1.example', false],
    ['10.0.0.1', 22, 'a,10.0.0.1,b', true],
    ['x', 22, '.', false],
  ])('%s:%d matches %j → %s', (host, port, patterns, want) => {
    expect(matchesPatterns(patterns, host, port)).toBe(want);
  });

  it('matches hashed entries', () => {
    expect(matchesPatterns(hashed('[10.1.1.1]:2222'), '10.1.1.1', 2222)).toBe(true);
    expect(matchesPatterns(hashed('10.1.1.1'), '10.1.1.1', 2222)).toBe(false);
  });

  it('unknown → add (0600) → known; another key → changed with the recorded fingerprint', async () => {
    const file = join(dir, 'sub', 'known_hosts');
    const k = key();
    let kh = await KnownHosts.load(file);
    expect(kh.verify('h', 2222, k)).toEqual({ kind: 'unknown' });
    await kh.add('h', 2222, k);
    expect(kh.verify('h', 2222, k)).toEqual({ kind: 'known' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${line(hostEntryName('h', 2222), k)}\n`);

    kh = await KnownHosts.load(file);
    expect(kh.verify('h', 2222, k)).toEqual({ kind: 'known' });
    expect(kh.verify('h', 22, k)).toEqual({ kind: 'unknown' });
    expect(kh.verify('h', 2222, key())).toEqual({
      kind: 'changed',
      known: [{ line: 1, type: 'ssh-ed25519', fingerprint: fingerprint(k.blob) }],
    });
    expect(kh.knownTypes('h', 2222)).toEqual(['ssh-ed25519']);
  });

  it('a key of another type for a known host is a change too', async () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `${line('h', key('ssh-rsa'))}\n`);
    const kh = await KnownHosts.load(file);
    expect(kh.verify('h', 22, key()).kind).toBe('changed');
  });

  it('refuses @revoked keys, ignores @cert-authority, comments and junk, appends after a missing newline', async () => {
    const file = join(dir, 'known_hosts');
    const bad = key();
    const good = key();
    writeFileSync(
      file,
      [
        '# comment',
        '',
        `@revoked * ${bad.type} ${bad.blob.toString('base64')}`,
        `@cert-authority *.example ${good.type} ${good.blob.toString('base64')}`,
        'garbage',
        `${hashed('h')} ${good.type} ${good.blob.toString('base64')}`,
      ].join('\n'),
    );
    const kh = await KnownHosts.load(file);
    expect(kh.verify('h', 22, bad)).toEqual({ kind: 'revoked', line: 3 });
    expect(kh.verify('h', 22, good)).toEqual({ kind: 'known' });
    expect(kh.verify('x.example', 22, good)).toEqual({ kind: 'unknown' });
    await kh.add('x.example', 22, good);
    expect(readFileSync(file, 'utf8').split('\n').at(-2)).toBe(line('x.example', good));
  });
});
