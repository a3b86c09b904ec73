import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, from, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { API_VERSION, SUSPEND_ANNOTATION, type ApiObject } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { FakeApiBackend } from '../api/fake-backend.ts';
import { EVERYTHING } from '../api/selector.ts';
import { withSuspension } from './backend.ts';
import { SuspendErrorCode, SuspendState } from './state.ts';

const obj = (kind: string, name: string, annotations?: Record<string, string>): ApiObject => ({
  apiVersion: API_VERSION,
  kind,
  metadata: { name, ...(annotations === undefined ? {} : { annotations }) },
  spec: {},
});

async function tmpState(): Promise<SuspendState> {
  return new SuspendState(join(await mkdtemp(join(tmpdir(), 'orun-suspend-')), 'suspend.json'));
}

describe('SuspendState', () => {
  it('persists suspensions across a reload (an agent restart)', async () => {
    const a = await tmpState();
    await a.load(); // no file yet: nothing suspended
    await a.set('Deployment', 'web', true);
    await a.set('ServiceGraph', 'app', true);
    await a.set('Node', 'n1', true);
    await a.set('ServiceGraph', 'app', false);
    const b = new SuspendState(a.path);
    await b.load();
    expect(b.objects()).toEqual(['Deployment/web']);
    expect(b.node).toBe(true);
    expect(JSON.parse(await readFile(a.path, 'utf8'))).toEqual({
      version: 1,
      node: true,
      objects: ['Deployment/web'],
    });
  });

  it.each([
    ['orunctl', { objects: ['Deployment/web'] }, undefined, undefined, 'orunctl'],
    ['annotation', {}, { [SUSPEND_ANNOTATION]: 'true' }, undefined, 'annotation'],
    ['annotation false', {}, { [SUSPEND_ANNOTATION]: 'false' }, undefined, undefined],
    ['node', { node: true }, undefined, undefined, 'node'],
    ['node annotation', {}, undefined, { [SUSPEND_ANNOTATION]: 'true' }, 'annotation'],
    ['none', {}, undefined, undefined, undefined],
  ] as const)('suspendedBy: %s', async (_n, file, own, nodeAnn, want) => {
    const s = await tmpState();
    await writeFile(s.path, JSON.stringify({ version: 1, node: false, objects: [], ...file }));
    await s.load();
    const nodeObj = nodeAnn === undefined ? undefined : obj('Node', 'n1', nodeAnn);
    expect(s.suspendedBy('Deployment/web', obj('Deployment', 'web', own), nodeObj)).toBe(want);
  });

  it('refuses a corrupt file instead of resuming everything', async () => {
    const s = await tmpState();
    await writeFile(s.path, '{"node": tru');
    const err: unknown = await s.load().catch((e: unknown) => e);
    expect(isOrunError(err, SuspendErrorCode.BadFile)).toBe(true);
  });
});

describe('withSuspension', () => {
  it('marks suspended objects in list/get/watch, and flips them live', async () => {
    const inner = new FakeApiBackend();
    inner.set(obj('Node', 'n1'));
    inner.set(obj('Deployment', 'web'));
    inner.set(obj('Deployment', 'api', { [SUSPEND_ANNOTATION]: 'true' }));
    const state = await tmpState();
    const api = withSuspension(inner, { state, nodeName: 'n1', node: () => inner.get('Node', 'n1') });
    const status = (o: ApiObject | undefined) =>
      o?.status as { suspended?: boolean; suspendedBy?: string } | undefined;
    expect(status(await api.get('Deployment', 'api'))).toEqual({
      suspended: true,
      suspendedBy: 'annotation',
    });
    expect(status(await api.get('Deployment', 'web'))).toBeUndefined();

    const ac = new AbortController();
    const events = firstValueFrom(from(api.watch('Deployment', ac.signal)).pipe(take(3), toArray()));
    await new Promise((r) => setImmediate(r));
    expect(await api.suspend!('Deployment', 'web', true)).toBe(true);
    const seen = await events;
    ac.abort();
    expect(seen.at(-1)).toMatchObject({
      type: 'MODIFIED',
      object: { metadata: { name: 'web' }, status: { suspended: true, suspendedBy: 'orunctl' } },
    });

    expect(await api.suspend!('Node', 'n1', true)).toBe(true);
    expect(status(await api.get('Node', 'n1'))).toEqual({ suspended: true, suspendedBy: 'orunctl' });
    expect((await api.list('Deployment', EVERYTHING)).map((o) => status(o)?.suspendedBy)).toEqual(
      expect.arrayContaining(['orunctl', 'annotation']),
    );
    expect(await api.suspend!('Node', 'other', true)).toBe(false);
    expect(await api.suspend!('Deployment', 'nope', true)).toBe(false);
  });
});
