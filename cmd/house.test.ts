// Issue 8's house rules for cmd/, kept true: cmd/ is wiring (at most 1,500 non-test lines) and no
// non-test function in it is over 80 lines. `node hack/house.ts` prints the figures.
import { describe, expect, it } from 'vitest';
import { CMD_LINES_MAX, FUNCTION_LINES_MAX, functionSpans, lineCount, sourceFiles } from '../hack/house.ts';

const root = new URL('..', import.meta.url).pathname;
const files = sourceFiles(root, 'cmd');

describe('cmd/ is wiring', () => {
  it(`holds at most ${CMD_LINES_MAX} non-test lines`, () => {
    expect(lineCount(root, files)).toBeLessThanOrEqual(CMD_LINES_MAX);
  });

  it(`has no non-test function over ${FUNCTION_LINES_MAX} lines`, () => {
    const over = functionSpans(root, files)
      .filter((s) => s.lines > FUNCTION_LINES_MAX)
      .map((s) => `${s.file}:${s.line} ${s.name} (${s.lines} lines)`);
    expect(over).toEqual([]);
  });

  it('reads the files and finds their functions', () => {
    expect(files.length).toBeGreaterThan(5);
    expect(functionSpans(root, ['hack/house.ts']).map((s) => s.name)).toContain('functionSpans');
  });
});
