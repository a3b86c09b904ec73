import { describe, expect, it } from 'vitest';
import { parseOrchfiles } from '../../apis/orchfile/index.ts';
import type { DesiredGraph } from './desired.ts';
import type { RunState, ServiceRecord } from '../../runtime/graph/index.ts';
import { planTakeover } from './takeover.ts';

const TEXT =
  'SERVICE db\nRUN db\nSERVICE api\nRUN api\nREQUIRES db\nSERVICE web\nRUN web\nREQUIRES api\nSERVICE side\nRUN side\n';

function desired(hashes: Record<string, string>): DesiredGraph {
  const r = parseOrchfiles([{ path: 'Orchfile', text: TEXT }]);
  if (!r.ok) throw new Error('parse');
  const services = ['db', 'api', 'web', 'side'].filter((s) => hashes[s] !== undefined);
  return {
    graph: r.graph,
    services,
    serviceHashes: hashes,
    hash: 'x',
    vars: { ORCH_PROJECT: '/' },
    project: 'p',
  };
}

function record(name: string, hash: string, pid: number): ServiceRecord {
  const status = { state: 'running', health: '', message: '' } as const;
  return { name, mode: 'host', ...status, hash, pid, restarts: 1, stopTimeoutMs: 10_000 };
}

const PREVIOUS: RunState = {
  project: 'g',
  configHash: 'old',
  updatedAt: 0,
  services: [record('db', 'd1', 1), record('api', 'a1', 2), record('web', 'w1', 3), record('side', 's1', 4)],
};

describe('planTakeover', () => {
  it.each([
    [
      'nothing changed: all adopted',
      { db: 'd1', api: 'a1', web: 'w1', side: 's1' },
      ['db', 'api', 'web', 'side'],
      [],
    ],
    [
      'db changed: its REQUIRES chain restarts, side adopted',
      { db: 'd2', api: 'a1', web: 'w1', side: 's1' },
      ['side'],
      ['web', 'api', 'db'],
    ],
    ['web changed: only web', { db: 'd1', api: 'a1', web: 'w2', side: 's1' }, ['db', 'api', 'side'], ['web']],
    ['side removed: stopped', { db: 'd1', api: 'a1', web: 'w1' }, ['db', 'api', 'web'], ['side']],
  ])('%s', (_what, hashes, adopted, stopped) => {
    const plan = planTakeover(PREVIOUS, desired(hashes), () => true);
    expect(Object.keys(plan.adopt)).toEqual(adopted);
    expect(plan.stop.map((s) => s.record.name)).toEqual(stopped);
  });

  it('removes only what changed or is gone; carries restarts; skips what is not ours', () => {
    const plan = planTakeover(PREVIOUS, desired({ db: 'd2', api: 'a1', web: 'w1' }), (r) => r.name !== 'api');
    expect(plan.stop.map((s) => [s.record.name, s.remove])).toEqual([
      ['side', true],
      ['web', false],
      ['db', true],
    ]);
    expect(plan.adopt).toEqual({});
    expect(
      planTakeover(PREVIOUS, desired({ db: 'd1', api: 'a1', web: 'w1', side: 's1' }), () => true).adopt.db,
    ).toEqual({
      pid: 1,
      restarts: 1,
    });
  });

  it('no previous run: nothing to adopt or stop', () => {
    expect(planTakeover(undefined, desired({ db: 'd1' }), () => true)).toEqual({ adopt: {}, stop: [] });
  });
});
