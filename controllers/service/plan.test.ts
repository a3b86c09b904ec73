import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeClock } from '../../runtime/clock/index.ts';
import type { StoredObject } from '../../runtime/store/index.ts';
import { dep, newStore, setReady, svc } from './harness.ts';
import { planIngress, type DeploymentObject, type ServiceObject } from './plan.ts';

function planFor(objects: ApiObject[], ready: Record<string, [number, number][] | false>, branch = 'main') {
  const clock = new FakeClock();
  const store = newStore(clock, objects);
  for (const [name, ports] of Object.entries(ready))
    if (ports !== false)
      setReady(
        store,
        name,
        true,
        ports.map(([containerPort, port]) => ({ containerPort, port })),
      );
  const list = (k: string): StoredObject[] => store.list(k);
  return planIngress(list('Service') as ServiceObject[], list('Deployment') as DeploymentObject[], branch);
}

describe('planIngress', () => {
  it.each<{
    name: string;
    objects: ApiObject[];
    ready: Record<string, [number, number][] | false>;
    branch?: string;
    want: Record<string, unknown>;
  }>([
    {
      name: 'ready Deployment: upstream is the published host port on 127.0.0.1',
      objects: [svc('web', { ssl: true }), dep('web', [{ containerPort: 80, port: 8080 }])],
      ready: { web: [[80, 32768]] },
      want: {
        web: {
          kind: 'routed',
          deployment: 'web',
          route: { id: 'web', host: 'web.example.com', tls: true, upstream: '127.0.0.1:32768' },
        },
      },
    },
    {
      name: 'not ready: route without upstream (503)',
      objects: [svc('web'), dep('web')],
      ready: { web: false },
      want: {
        web: { kind: 'routed', deployment: 'web', route: { id: 'web', host: 'web.example.com', tls: false } },
      },
    },
    {
      name: 'ingress.port picks the mapping; spec port when status has none for it',
      objects: [
        svc('api', { port: 9000 }),
        dep('api', [
          { containerPort: 80, port: 8080 },
          { containerPort: 9000, port: 9090 },
        ]),
      ],
      ready: { api: [[80, 8080]] },
      want: {
        api: {
          kind: 'routed',
          deployment: 'api',
          route: { id: 'api', host: 'api.example.com', tls: false, upstream: '127.0.0.1:9090' },
        },
      },
    },
    {
      name: 'missing Deployment',
      objects: [svc('web', { deployment: 'gone' })],
      ready: {},
      want: {
        web: {
          kind: 'stalled',
          reason: 'DeploymentNotFound',
          message: 'Deployment gone not found',
          domain: 'web.example.com',
        },
      },
    },
    {
      name: 'no such port',
      objects: [svc('web', { port: 443 }), dep('web')],
      ready: { web: [[80, 8080]] },
      want: {
        web: {
          kind: 'stalled',
          reason: 'NoTargetPort',
          message: 'Deployment web publishes no tcp containerPort 443',
          domain: 'web.example.com',
        },
      },
    },
    {
      name: 'two Services on one domain: the older (here: by name) keeps it',
      objects: [
        svc('b', { domain: 'x.example.com', deployment: 'd' }),
        svc('a', { domain: 'x.example.com', deployment: 'd' }),
        dep('d'),
      ],
      ready: { d: [[80, 8080]] },
      want: {
        a: {
          kind: 'routed',
          deployment: 'd',
          route: { id: 'a', host: 'x.example.com', tls: false, upstream: '127.0.0.1:8080' },
        },
        b: {
          kind: 'stalled',
          reason: 'DomainConflict',
          message: 'domain x.example.com is already served by Service/a',
          domain: 'x.example.com',
        },
      },
    },
    {
      name: 'off main: environment template with the branch as $ENV',
      objects: [svc('web', { environment: '$ENV.web.example.com' }), dep('web')],
      ready: { web: [[80, 8080]] },
      branch: 'feature/New-UI',
      want: {
        web: {
          kind: 'routed',
          deployment: 'web',
          route: {
            id: 'web',
            host: 'feature-new-ui.web.example.com',
            tls: false,
            upstream: '127.0.0.1:8080',
          },
        },
      },
    },
    {
      name: 'off main without an environment template: not exposed',
      objects: [svc('web'), dep('web')],
      ready: { web: [[80, 8080]] },
      branch: 'staging',
      want: {
        web: {
          kind: 'unexposed',
          reason: 'NoDomainForBranch',
          message: 'not exposed on branch staging: ingress.domain.environment is not set',
        },
      },
    },
  ])('$name', ({ objects, ready, branch, want }) => {
    const plan = planFor(objects, ready, branch);
    expect(Object.fromEntries(plan.services)).toEqual(want);
    expect(plan.routes).toEqual(
      Object.values(want)
        .filter((p) => (p as { kind: string }).kind === 'routed')
        .map((p) => (p as { route: unknown }).route),
    );
  });
});
