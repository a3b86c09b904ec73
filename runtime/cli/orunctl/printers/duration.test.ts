import { describe, expect, it } from 'vitest';
import { age, describeTime, humanDuration } from './duration.ts';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('humanDuration (kubectl HumanDuration)', () => {
  it.each([
    [-2 * s, '<invalid>'],
    [-1.5 * s, '0s'],
    [-0.5 * s, '0s'],
    [0, '0s'],
    [999, '0s'],
    [59 * s, '59s'],
    [90 * s, '90s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [5 * m + 3 * s, '5m3s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 20 * m + 59 * s, '3h20m'],
    [7 * h + 59 * m, '7h59m'],
    [8 * h + 30 * m, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [2 * d + 4 * h + 30 * m, '2d4h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d, '8d'],
    [729 * d, '729d'],
    [2 * 365 * d, '2y'],
    [3 * 365 * d + 12 * d, '3y12d'],
    [8 * 365 * d, '8y'],
  ])('%i ms → %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });
});

describe('age', () => {
  const now = new Date('2025-01-01T12:00:00Z');
  it.each([
    ['2025-01-01T11:58:30Z', '90s'],
    ['2025-01-01T11:54:57Z', '5m3s'],
    [undefined, '<unknown>'],
    ['garbage', '<invalid>'],
  ])('%s → %s', (ts, expected) => {
    expect(age(ts, now)).toBe(expected);
  });

  it('describeTime prints RFC 1123 in UTC', () => {
    expect(describeTime('2025-01-01T11:58:30Z')).toBe('Wed, 01 Jan 2025 11:58:30 +0000');
  });
});
