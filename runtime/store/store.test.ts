import { describe, expect, it } from 'vitest';
import type { ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { isOrunError } from '../../apis/errors.ts';
import { FakeClock } from '../clock/index.ts';
import { canonicalJSON } from './hash.ts';
import { Store, type StoreEvent } from './store.ts';

function dep(name: string, spec: Record<string, unknown>, labels?: Record<string, string>): ApiObject {
  return { apiVersion: 'run.orcra.dev/v0alpha', kind: 'Deployment', metadata: { name, labels }, spec };
}
const KINDS = ['Deployment'];

function recorder(store: Store): StoreEvent[] {
  const events: StoreEvent[] = [];
  store.events$.subscribe((e) => events.push(e));
  return events;
}

describe('Store', () => {
  it('apply yields added/updated/deleted deltas and events; deletes carry the last object', () => {
    const clock = new FakeClock();
    const store = new Store({ clock });
    const events = recorder(store);
    store.apply({
      kinds: KINDS,
      objects: [dep('a', { image: 'x:1' }), dep('b', { image: 'y:1' })],
      revision: 'c1',
    });
    clock.step(60_000);
    const r = store.apply({ kinds: KINDS, objects: [dep('a', { image: 'x:2' })], revision: 'c2' });
    expect(r.added).toEqual([]);
    expect(r.updated.map((o) => o.metadata.name)).toEqual(['a']);
    expect(r.deleted.map((o) => o.spec)).toEqual([{ image: 'y:1' }]);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name} spec=${e.specChanged}`)).toEqual([
      'ADDED a spec=true',
      'ADDED b spec=true',
      'MODIFIED a spec=true',
      'DELETED b spec=true',
    ]);
    const a = store.get('Deployment', 'a');
    expect(a?.metadata).toMatchObject({ generation: 2, creationTimestamp: '2025-01-01T00:00:00Z' });
    expect(store.revision()).toBe('c2');
  });

  it('an identical snapshot changes nothing; a label change bumps resourceVersion but not generation', () => {
    const store = new Store({ clock: new FakeClock() });
    store.apply({ kinds: KINDS, objects: [dep('a', { image: 'x', ports: [1, 2] })] });
    const before = store.get('Deployment', 'a');
    const events = recorder(store);
    expect(store.apply({ kinds: KINDS, objects: [dep('a', { ports: [1, 2], image: 'x' })] }).unchanged).toBe(
      1,
    );
    expect(events).toEqual([]);
    store.apply({ kinds: KINDS, objects: [dep('a', { image: 'x', ports: [1, 2] }, { tier: 'web' })] });
    const after = store.get('Deployment', 'a');
    expect(after?.metadata.generation).toBe(before?.metadata.generation);
    expect(after?.metadata.resourceVersion).not.toBe(before?.metadata.resourceVersion);
    expect(events.map((e) => [e.type, e.specChanged, e.statusOnly])).toEqual([['MODIFIED', false, false]]);
  });

  it('hands out deep-frozen objects and does not alias the input', () => {
    const store = new Store();
    const input = dep('a', { env: { A: '1' } });
    store.apply({ kinds: KINDS, objects: [input] });
    (input.spec as { env: Record<string, string> }).env.A = 'changed';
    const got = store.get('Deployment', 'a') as unknown as ApiObject<string, { env: Record<string, string> }>;
    expect(got.spec.env.A).toBe('1');
    expect(() => {
      got.spec.env.A = 'mutated';
    }).toThrow(TypeError);
    expect(Object.isFrozen(got.metadata)).toBe(true);
  });

  it('keeps status across spec updates; status-only writes are flagged and skip no-ops', () => {
    const store = new Store();
    store.apply({ kinds: KINDS, objects: [dep('a', { image: 'x:1' })] });
    const events = recorder(store);
    store.updateStatus('Deployment', 'a', () => ({ observedGeneration: 1 }));
    store.updateStatus('Deployment', 'a', (old) => ({ ...old }));
    store.apply({ kinds: KINDS, objects: [dep('a', { image: 'x:2' })] });
    expect(events.map((e) => [e.type, e.statusOnly, e.specChanged])).toEqual([
      ['MODIFIED', true, false],
      ['MODIFIED', false, true],
    ]);
    expect(store.get('Deployment', 'a')?.status).toEqual({ observedGeneration: 1 });
    expect(store.get('Deployment', 'a')?.metadata.generation).toBe(2);
  });

  it.each([
    {
      name: 'kind outside the snapshot',
      objects: [{ ...dep('a', {}), kind: 'Service' }],
      code: 'store.kind_not_in_snapshot',
    },
    { name: 'duplicate key', objects: [dep('a', {}), dep('a', {})], code: 'store.duplicate_key' },
  ])('rejects a bad snapshot without writing: $name', ({ objects, code }) => {
    const store = new Store();
    store.apply({ kinds: KINDS, objects: [dep('keep', {})] });
    let err: unknown;
    try {
      store.apply({ kinds: KINDS, objects });
    } catch (e) {
      err = e;
    }
    expect(isOrunError(err, code)).toBe(true);
    expect(store.list('Deployment').map((o) => o.metadata.name)).toEqual(['keep']);
  });

  it('updateStatus on a missing object throws store.not_found', () => {
    expect(() => new Store().updateStatus('Deployment', 'nope', () => ({}))).toThrow(
      expect.objectContaining({ code: 'store.not_found' }),
    );
  });

  it.each([
    { selector: { app: 'web' }, want: ['a', 'c'] },
    { selector: 'app=web,tier!=db', want: ['a'] },
    { selector: '!app', want: ['b'] },
    { selector: 'tier', want: ['c'] },
  ])('lists by label selector $selector', ({ selector, want }) => {
    const store = new Store();
    store.apply({
      kinds: KINDS,
      objects: [dep('c', {}, { app: 'web', tier: 'db' }), dep('a', {}, { app: 'web' }), dep('b', {})],
    });
    expect(store.list('Deployment', { labelSelector: selector }).map((o) => o.metadata.name)).toEqual(want);
  });

  it('maintains custom indexes across updates and deletes', () => {
    const store = new Store();
    store.apply({ kinds: KINDS, objects: [dep('a', { node: 'n1' }), dep('b', { node: 'n1' })] });
    store.addIndex('byNode', (o) => [(o.spec as { node: string }).node]);
    expect(store.byIndex('byNode', 'n1').map((o) => o.metadata.name)).toEqual(['a', 'b']);
    store.apply({ kinds: KINDS, objects: [dep('a', { node: 'n2' })] });
    expect(store.byIndex('byNode', 'n1')).toEqual([]);
    expect(store.byIndex('byNode', 'n2').map((o) => o.metadata.name)).toEqual(['a']);
  });

  it('watch starts with ADDED for existing objects of the requested kinds, then live events', () => {
    const store = new Store();
    store.apply({
      kinds: ['Deployment', 'Service'],
      objects: [dep('a', {}), { ...dep('s', {}), kind: 'Service' }],
    });
    const seen: string[] = [];
    const sub = store
      .watch({ kinds: ['Deployment'] })
      .subscribe((e) => seen.push(`${e.type} ${e.object.metadata.name}`));
    store.apply({ kinds: KINDS, objects: [] });
    sub.unsubscribe();
    expect(seen).toEqual(['ADDED a', 'DELETED a']);
  });

  it('canonicalJSON sorts keys at every level', () => {
    expect(canonicalJSON({ b: 1, a: { d: [{ y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[{"x":2,"y":1}]},"b":1}',
    );
  });
});
