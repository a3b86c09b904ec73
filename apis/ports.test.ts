import { describe, expect, it } from 'vitest';
import { isPort, MAX_PORT, portFromText } from './ports.ts';

describe('ports', () => {
  it.each([
    [1, true],
    [80, true],
    [MAX_PORT, true],
    [0, false],
    [65_536, false],
    [-1, false],
    [1.5, false],
    [Number.NaN, false],
  ])('isPort(%j) is %s', (n, ok) => {
    expect(isPort(n)).toBe(ok);
  });

  it.each([
    ['80', 80],
    ['065535', 65_535],
    ['0', undefined],
    ['65536', undefined],
    [' 80', undefined],
    ['8e1', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('portFromText(%j) is %j', (text, port) => {
    expect(portFromText(text)).toBe(port);
  });
});
