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
    [
      'a secretKeyRef names a key, not a secret',
      { A: { secretKeyRef: 'db' } },
      { A: { secretKeyRef: 'db' } },
    ],
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

  it('masks every field the decrypted-paths function names, and known values in other strings', () => {
    const obj: ApiObject = {
      apiVersion: 'run.orcra.dev/v0alpha',
      kind: 'Deployment',
      metadata: { name: 'web', annotations: { owner: 'alice', token: 'hunter22' } },
      spec: { image: 'nginx', ports: [{ containerPort: 80, port: 8080 }] },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'X',
            lastTransitionTime: 't',
            message: 'bad token hunter22 in use',
          },
        ],
      },
    };
    const out = redactObject(obj, {
      secretPaths: () => ['metadata.annotations.token', 'spec.ports[0].port'],
      redactText: (t) => t.split('hunter22').join('[REDACTED]'),
    });
    expect(out.metadata.annotations).toEqual({ owner: 'alice', token: { secret: true } });
    expect(out.spec).toEqual({ image: 'nginx', ports: [{ containerPort: 80, port: { secret: true } }] });
    expect(JSON.stringify(out)).not.toContain('hunter22');
    expect(JSON.stringify(out)).toContain('bad token [REDACTED] in use');
  });
});
