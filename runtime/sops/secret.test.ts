/* eslint-disable @typescript-eslint/restrict-template-expressions, @typescript-eslint/restrict-plus-operands --
   these tests check what happens when careless code does exactly that. */
import { format, inspect } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACTED, SecretString, revealValue } from './index.ts';

const plaintext = 'hunter2-very-secret';
const s = new SecretString(plaintext, {
  sopsType: 'str',
  origin: 'ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]',
});

describe('SecretString', () => {
  it.each<[string, () => string]>([
    ['template string', () => `${s}`],
    ['String()', () => String(s)],
    ['concatenation', () => 'v=' + s],
    ['JSON.stringify', () => JSON.stringify(s)],
    ['JSON.stringify nested', () => JSON.stringify({ env: { A: s }, list: [s] })],
    ['util.inspect', () => inspect(s)],
    ['util.inspect nested, showHidden', () => inspect({ env: { A: s } }, { showHidden: true, depth: 10 })],
    ['util.format %s %o %O %j', () => format('%s %o %O %j', s, s, { s }, { s })],
    ['Object spread', () => JSON.stringify({ ...s })],
    ['Object.keys/entries', () => JSON.stringify([Object.keys(s), Object.entries(s)])],
    ['structuredClone', () => inspect(structuredClone(s))],
  ])('does not leak via %s', (_name, show) => {
    const out = show();
    expect(out).not.toContain(plaintext);
  });

  it('prints <redacted>', () => {
    expect(`${s}`).toBe(REDACTED);
    expect(JSON.stringify({ a: s })).toBe(`{"a":"${REDACTED}"}`);
    expect(inspect(s)).toBe(`SecretString(${REDACTED})`);
  });

  it('does not leak through a pino logger', () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    log.info({ env: { DB_PASSWORD: s }, secret: s, list: [s] }, 'applying deployment');
    log.info(`message with ${s}`);
    log.child({ s }).warn('child bindings');
    log.error({ err: new Error(`failed with ${s}`) }, 'error path');
    expect(lines).toHaveLength(4);
    const all = lines.join('');
    expect(all).not.toContain(plaintext);
    expect(all).toContain(REDACTED);
  });

  it('reveals only on request, compares in constant time, fingerprints without the plaintext', () => {
    expect(s.reveal()).toBe(plaintext);
    expect(revealValue(s)).toBe(plaintext);
    expect(revealValue('plain')).toBe('plain');
    expect(s.equals(new SecretString(plaintext))).toBe(true);
    expect(s.equals(new SecretString('other'))).toBe(false);
    expect(s.fingerprint()).toMatch(/^[0-9a-f]{64}$/);
    expect(s.fingerprint()).toBe(
      new SecretString('different', { origin: 'ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]' }).fingerprint(),
    );
    const bare = new SecretString(plaintext);
    expect(bare.fingerprint()).toBe(new SecretString(plaintext).fingerprint());
    expect(bare.fingerprint()).not.toBe(new SecretString('x').fingerprint());
    expect(SecretString.isSecret(s)).toBe(true);
    expect(SecretString.isSecret(plaintext)).toBe(false);
    expect(Object.isFrozen(s)).toBe(true);
  });
});
