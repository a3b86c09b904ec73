import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { redactObject } from './redact.ts';
import { isSecretValue } from './types.ts';

const ENC = 'ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]';

function deployment(env: Record<string, unknown>, extra: Record<string, unknown> = {}): ApiObject {
  return {
    apiVersion: 'run.orcra.dev/v0alpha',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { image: 'nginx', env, ...extra },
  };
}

describe('redactObject', () => {
  it.each([
    ['inline SOPS value', { A: ENC }, { A: { secret: true } }],
    ['plain values stay', { A: 'x', B: 1, C: true }, { A: 'x', B: 1, C: true }],
    ['structured env value', { A: { valueFrom: 'secrets.yaml#db' } }, { A: { secret: true } }],
  ])('%s', (_name, env, expected) => {
    const out = redactObject(deployment(env)) as ApiObject<'Deployment', { env: unknown }>;
    expect(out.spec.env).toEqual(expected);
  });

  it('masks SOPS values anywhere, e.g. build args', () => {
    const out = redactObject(deployment({}, { build: { args: { TOKEN: ENC } } }));
    expect(JSON.stringify(out)).not.toContain('AES256_GCM');
  });

  it('masks env vars the predicate flags, and leaves the input alone', () => {
    const input = Object.freeze(deployment({ DB_PASSWORD: 'hunter2', MODE: 'prod' }));
    const out = redactObject(input, { isSecretEnv: (_o, key) => key === 'DB_PASSWORD' }) as ApiObject<
      'Deployment',
      { env: Record<string, unknown> }
    >;
    expect(isSecretValue(out.spec.env['DB_PASSWORD'])).toBe(true);
    expect(out.spec.env['MODE']).toBe('prod');
    expect(JSON.stringify(input)).toContain('hunter2');
  });
});
