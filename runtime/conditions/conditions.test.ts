import { describe, expect, it } from 'vitest';
import type { Condition } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { deepFreeze } from '../store/index.ts';
import {
  findCondition,
  markReady,
  markReconciling,
  markStalled,
  setCondition,
  verdictConditions,
  type Verdict,
} from './conditions.ts';

const T0 = Date.UTC(2025, 0, 1);
const T1 = T0 + 90_500;

describe('setCondition', () => {
  const ready = (status: Condition['status'], reason = 'R') => ({
    type: 'Ready',
    status,
    reason,
    message: reason,
  });

  it.each([
    { name: 'new condition gets now', before: [], set: ready('True'), want: '2025-01-01T00:01:30Z' },
    {
      name: 'same status keeps the old time, updates reason',
      before: setCondition([], ready('True'), T0),
      set: ready('True', 'Other'),
      want: '2025-01-01T00:00:00Z',
    },
    {
      name: 'status flip changes the time',
      before: setCondition([], ready('True'), T0),
      set: ready('False'),
      want: '2025-01-01T00:01:30Z',
    },
  ])('$name', ({ before, set, want }) => {
    const out = setCondition(deepFreeze(before), set, T1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ ...set, lastTransitionTime: want });
  });
});

describe('kstatus helpers', () => {
  it('reconciling → ready → stalled moves the abnormal-true conditions as kstatus expects', () => {
    const m = { reason: 'Progressing', message: 'pulling image', observedGeneration: 2 };
    let c = markReconciling(undefined, m, T0);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Reconciling=True', 'Ready=Unknown']);
    c = markReady(c, { reason: 'Succeeded', message: 'running', observedGeneration: 2 }, T1);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=True']);
    c = markStalled(c, { reason: 'InvalidSpec', message: 'bad image' }, T1);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=False', 'Stalled=True']);
    expect(findCondition(c, 'Ready')?.reason).toBe('InvalidSpec');
  });
});

describe('verdictConditions', () => {
  const T0 = Date.UTC(2025, 0, 1);
  it.each<[Verdict['kind'], Record<string, string>]>([
    ['ready', { Ready: 'True' }],
    ['progressing', { Ready: 'False', Reconciling: 'True' }],
    ['stalled', { Ready: 'False', Stalled: 'True' }],
    ['idle', { Ready: 'False' }],
  ])('%s → %j (Reconciling/Stalled only while True)', (kind, want) => {
    const stalledBefore = verdictConditions(undefined, { kind: 'stalled', reason: 'X', message: 'x' }, 1, T0);
    const got = verdictConditions(stalledBefore, { kind, reason: 'Why', message: 'because' }, 2, T0 + 1000);
    expect(Object.fromEntries(got.map((c) => [c.type, c.status]))).toEqual(want);
    expect(got.every((c) => c.observedGeneration === 2 && c.reason === 'Why')).toBe(true);
  });

  it('keeps lastTransitionTime while the status stays, moves it on a flip', () => {
    const a = verdictConditions(undefined, { kind: 'ready', reason: 'Ok', message: '' }, 1, T0);
    const b = verdictConditions(a, { kind: 'ready', reason: 'Ok', message: 'still' }, 1, T0 + 5000);
    const c = verdictConditions(b, { kind: 'progressing', reason: 'Replacing', message: '' }, 2, T0 + 9000);
    expect(findCondition(b, 'Ready')?.lastTransitionTime).toBe(findCondition(a, 'Ready')?.lastTransitionTime);
    expect(findCondition(c, 'Ready')?.lastTransitionTime).not.toBe(
      findCondition(a, 'Ready')?.lastTransitionTime,
    );
  });
});
