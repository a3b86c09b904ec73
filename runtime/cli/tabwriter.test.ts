import { describe, expect, it } from 'vitest';
import { DESCRIBE, GET_TABLE, formatCells, tabwrite, visibleWidth } from './tabwriter.ts';

describe('tabwriter', () => {
  it('pads every column but the last by 3, with a minimal width of 6', () => {
    expect(
      formatCells(
        [
          ['NAME', 'READY', 'AGE'],
          ['web', '1/1', '90s'],
          ['a', 'x', '5m3s'],
        ],
        GET_TABLE,
      ),
    ).toBe('NAME   READY   AGE\nweb    1/1     90s\na      x       5m3s\n');
    expect(formatCells([['a', 'b', 'c']], GET_TABLE)).toBe('a     b     c\n');
  });

  it('aligns describe blocks separately, broken by lines without a tab', () => {
    const text = 'Name:\tweb\nLabels:\tapp=web\n\ttier=front\nSpec:\n  Image:\tnginx\n  Ports:\t80\n';
    expect(tabwrite(text, DESCRIBE)).toBe(
      'Name:    web\nLabels:  app=web\n         tier=front\nSpec:\n  Image:  nginx\n  Ports:  80\n',
    );
  });

  it('ignores ANSI colours when measuring', () => {
    expect(
      formatCells(
        [
          ['\x1b[32mok\x1b[0m', 'x'],
          ['long', 'y'],
        ],
        DESCRIBE,
      ),
    ).toBe('\x1b[32mok\x1b[0m    x\nlong  y\n');
  });

  it('remembers widths across calls, growing only (watch rows stay aligned)', () => {
    const widths: number[] = [];
    expect(
      formatCells(
        [
          ['NAME', 'AGE'],
          ['web', '1s'],
        ],
        GET_TABLE,
        widths,
      ),
    ).toBe('NAME   AGE\nweb    1s\n');
    expect(formatCells([['a', '2s']], GET_TABLE, widths)).toBe('a      2s\n');
    expect(formatCells([['verylongname', '3s']], GET_TABLE, widths)).toBe('verylongname   3s\n');
  });
});

describe('visibleWidth', () => {
  it('counts code points without colour codes', () => {
    expect(visibleWidth('web-1')).toBe(5);
    expect(visibleWidth('\x1b[32mRunning\x1b[0m')).toBe(7);
    expect(visibleWidth('café')).toBe(4);
    expect(visibleWidth('🚀 up')).toBe(4);
  });
});
