import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { matchesSelector, parseSelector } from './selector.ts';

const labels = { app: 'web', tier: 'front', 'run.orcra.dev/env': 'prod' };

describe('label selectors', () => {
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=api', false],
    ['app!=api', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['app in (web, api)', true],
    ['app notin (web,api)', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['run.orcra.dev/env=prod', true],
    ['app in (api),tier', false],
  ])('%j matches: %s', (text, expected) => {
    expect(matchesSelector(parseSelector(text), labels)).toBe(expected);
  });

  it.each(['app=we b', 'a,,b', '=x', 'app in (we b)', 'bad key=x'])('%j is rejected', (text) => {
    let caught: unknown;
    try {
      parseSelector(text);
    } catch (err) {
      caught = err;
    }
    expect(isOrunError(caught, 'InvalidLabelSelector')).toBe(true);
  });
});
