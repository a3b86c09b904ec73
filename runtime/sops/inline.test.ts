import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inlineAad, openInline, sealInline, SopsErrorCode, type InlinePlace } from './index.ts';

const key = randomBytes(32);
const web: InlinePlace = { kind: 'Deployment', name: 'web', path: ['spec', 'env', 'DB_PASSWORD'] };

describe('inline ENC[...] values', () => {
  it('binds a value to its object and key (AAD Kind/name:path:)', () => {
    expect(inlineAad(web)).toBe('Deployment/web:spec:env:DB_PASSWORD:');
    const ct = sealInline('hunter2', key, web);
    expect(ct).toMatch(/^ENC\[AES256_GCM,data:[^,]+,iv:[^,]+,tag:[^,]+,type:str\]$/);
    expect(ct).not.toContain('hunter2');
    const s = openInline(ct, key, web);
    expect(s.reveal()).toBe('hunter2');
    expect(String(s)).toBe('<redacted>');
  });

  const ct = sealInline('hunter2', key, web);
  it.each<[string, string, Uint8Array, InlinePlace, string]>([
    ['moved to another key', ct, key, { ...web, path: ['spec', 'env', 'OTHER'] }, SopsErrorCode.MacMismatch],
    ['moved to another Deployment', ct, key, { ...web, name: 'api' }, SopsErrorCode.MacMismatch],
    ['sealed under another data key', ct, randomBytes(32), web, SopsErrorCode.MacMismatch],
    ['swapped ciphertext', ct.replace(/data:([^,]{2})/, 'data:AA'), key, web, SopsErrorCode.MacMismatch],
    ['truncated', ct.slice(0, 40), key, web, SopsErrorCode.Malformed],
    ['plaintext', 'hunter2', key, web, SopsErrorCode.Malformed],
  ])('refuses a value %s, naming the place but not the value', (_name, text, k, place, code) => {
    let err: unknown;
    try {
      openInline(text, k, place);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code });
    expect(String((err as Error).message)).toContain(`${place.kind}/${place.name}`);
    expect(String((err as Error).message)).not.toContain('hunter2');
  });

  it('refuses to seal an empty value (sops leaves those unencrypted)', () => {
    expect(() => sealInline('', key, web)).toThrow(/empty/);
  });
});
