import { describe, expect, it } from 'vitest';
import { API_VERSION, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { SecretString } from '../../runtime/sops/index.ts';
import { planChanges, type GraphShape } from './plan.ts';

const ENC = (tag: string): string => `ENC[AES256_GCM,data:${tag},iv:aaaa,tag:bbbb,type:str]`;
const o = (kind: string, name: string, spec: Record<string, unknown>): ApiObject => ({
  apiVersion: API_VERSION,
  kind,
  metadata: { name },
  spec,
});
const secrets = new Map([
  [ENC('old1'), new SecretString('hunter2')],
  [ENC('new1'), new SecretString('hunter2')], // re-encrypted, same value
  [ENC('old2'), new SecretString('a')],
  [ENC('new2'), new SecretString('b')],
]);
const base = { currentSecret: (c: string) => secrets.get(c), nextSecret: (c: string) => secrets.get(c) };

describe('planChanges', () => {
  it('one replaced, one new and one removed Deployment: exactly those', () => {
    const changes = planChanges({
      ...base,
      current: [
        o('Node', 'n1', {}),
        o('Deployment', 'web', { image: 'busybox:1', env: { A: '1' } }),
        o('Deployment', 'old', { image: 'x' }),
        o('Deployment', 'same', { image: 'y' }),
      ],
      next: [
        o('Node', 'n1', { changed: true }),
        o('Deployment', 'web', { image: 'nginx:1', env: { A: '1' } }),
        o('Deployment', 'api', { image: 'z' }),
        o('Deployment', 'same', { image: 'y' }),
      ],
    });
    expect(changes).toEqual([
      { kind: 'Deployment', name: 'api', action: 'created' },
      { kind: 'Deployment', name: 'old', action: 'pruned' },
      {
        kind: 'Deployment',
        name: 'web',
        action: 'replaced',
        fields: [{ path: 'spec.image', from: 'busybox:1', to: 'nginx:1' }],
      },
    ]);
  });

  it('secrets compare by plaintext and never show a value', () => {
    const changes = planChanges({
      ...base,
      current: [
        o('Deployment', 'a', { env: { T: ENC('old1') } }),
        o('Deployment', 'b', { env: { T: ENC('old2'), U: 'x' } }),
      ],
      next: [
        o('Deployment', 'a', { env: { T: ENC('new1') } }),
        o('Deployment', 'b', { env: { T: ENC('new2'), U: 'y' } }),
      ],
    });
    expect(changes).toEqual([
      {
        kind: 'Deployment',
        name: 'b',
        action: 'replaced',
        fields: [
          { path: 'spec.env.T', secret: 'changed' },
          { path: 'spec.env.U', from: 'x', to: 'y' },
        ],
      },
    ]);
    expect(JSON.stringify(changes)).not.toMatch(/hunter2|ENC\[/);
  });

  it('a Service whose deployment or ingress changes is rerouted', () => {
    const svc = (deployment: string, host: string) =>
      o('Service', 'web', { deployment, ingress: { domain: { default: host } } });
    const changes = planChanges({ ...base, current: [svc('web', 'a.test')], next: [svc('api', 'a.test')] });
    expect(changes).toEqual([
      {
        kind: 'Service',
        name: 'web',
        action: 'rerouted',
        fields: [{ path: 'spec.deployment', from: 'web', to: 'api' }],
      },
    ]);
  });

  it('a ServiceGraph restarts changed services and what REQUIRES them; dropped ones stop', () => {
    const shapes: Record<'current' | 'next', GraphShape> = {
      current: { hashes: { db: '1', web: '2', cache: '3', docs: '4' }, requires: { web: ['db'], docs: [] } },
      next: { hashes: { db: '9', web: '2', docs: '4' }, requires: { web: ['db'], docs: [] } },
    };
    const sg = o('ServiceGraph', 'app', { orchfiles: ['Orchfile'] });
    const changes = planChanges({ ...base, current: [sg], next: [sg], graph: (_sg, side) => shapes[side] });
    expect(changes).toEqual([
      {
        kind: 'ServiceGraph',
        name: 'app',
        action: 'restarted',
        services: { restarted: ['db', 'web'], stopped: ['cache'] },
      },
    ]);
  });

  it('marks a change to a suspended object', () => {
    const changes = planChanges({
      ...base,
      current: [o('Deployment', 'web', { image: 'a' })],
      next: [o('Deployment', 'web', { image: 'b' })],
      suspended: (k) => k === 'Deployment/web',
    });
    expect(changes[0]?.suspended).toBe(true);
  });
});
