// Issue 8's house rules, kept true: cmd/ is wiring (at most 1,500 non-test lines), and no non-test
// function in the source the product ships (apis, runtime, controllers, cmd) is over 80 lines.
// `node hack/house.ts` prints the figures.
import { describe, expect, it } from 'vitest';
import {
  CMD_LINES_MAX,
  FUNCTION_LINES_MAX,
  functionSpans,
  lineCount,
  overLimit,
  SHIPPED_DIRS,
  sourceFiles,
} from '../hack/house.ts';

const root = new URL('..', import.meta.url).pathname;
const files = sourceFiles(root, 'cmd');

describe('cmd/ is wiring', () => {
  it(`holds at most ${CMD_LINES_MAX} non-test lines`, () => {
    expect(lineCount(root, files)).toBeLessThanOrEqual(CMD_LINES_MAX);
  });

  it(`has no non-test function over ${FUNCTION_LINES_MAX} lines`, () => {
    expect(overLimit(functionSpans(root, files))).toEqual([]);
  });

  it('reads the files and finds their functions', () => {
    expect(files.length).toBeGreaterThan(5);
    expect(functionSpans(root, ['hack/house.ts']).map((s) => s.name)).toContain('functionSpans');
  });
});

describe('the shipped source (apis, runtime, controllers, cmd)', () => {
  const spans = functionSpans(
    root,
    SHIPPED_DIRS.flatMap((d) => sourceFiles(root, d)),
  );

  it(`has no non-test function over ${FUNCTION_LINES_MAX} lines`, () => {
    expect(overLimit(spans)).toEqual([]);
  });

  it('counts every folder, and not the tests or the contract suites', () => {
    const counted = new Set(spans.map((s) => s.file.split('/')[0]));
    expect([...counted].sort()).toEqual([...SHIPPED_DIRS].sort());
    expect(spans.some((s) => /\.(test|contract)\.ts$/.test(s.file))).toBe(false);
  });
});
