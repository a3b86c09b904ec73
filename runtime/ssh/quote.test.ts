import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOrunError } from '../../apis/errors.ts';
import { QuoteErrorCode, shellAnd, shellCommand, shellQuote, shellSplit, shellSplitList } from './quote.ts';

/** What /bin/sh makes of a command line: `printf '%s\0' <line>` prints each word NUL-terminated. */
function shWords(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shellQuote', () => {
  it.each([
    ['plain', 'plain'],
    ['/opt/orun/', '/opt/orun/'],
    ['k=v,a:b@c%d+e', 'k=v,a:b@c%d+e'],
    ['', "''"],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
    ['`id`', "'`id`'"],
    ['a;b&&c|d', "'a;b&&c|d'"],
    ['line\nbreak', "'line\nbreak'"],
    ['~/x', "'~/x'"],
    ['*', "'*'"],
    ['-rf', '-rf'],
    ['"dq"', `'"dq"'`],
    ['back\\slash', "'back\\slash'"],
  ])('%j → %s', (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });

  it('refuses a NUL byte', () => {
    let err: unknown;
    try {
      shellQuote('a\0b');
    } catch (e) {
      err = e;
    }
    expect(isOrunError(err, QuoteErrorCode.NulInArgument)).toBe(true);
  });

  it('the real shell reads back exactly the argument (property)', () => {
    const arg = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 4 }), (argv) => {
        expect(shWords(shellCommand(argv))).toEqual(argv);
      }),
      { numRuns: 150 },
    );
    // 150 real /bin/sh runs: generous on a loaded 2-core machine; this is no timing assertion.
  }, 60_000);

  it('shellSplit inverts shellCommand (property)', () => {
    const arg = fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (argv) => {
        expect(shellSplit(shellCommand(argv))).toEqual(argv);
      }),
      { numRuns: 1000 },
    );
  });

  it('shellSplitList inverts shellAnd, and the shell runs each argv (property)', () => {
    const arg = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\0'));
    const argv = fc.array(arg, { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(argv, { minLength: 1, maxLength: 3 }), (argvs) => {
        expect(shellSplitList(shellAnd(...argvs))).toEqual(argvs);
      }),
      { numRuns: 500 },
    );
    const line = shellAnd(['printf', '%s\\0', 'a && b'], ['printf', '%s\\0', "c'd"]);
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' })).toBe("a && b\0c'd\0");
  });

  it.each(['a "b"', 'echo $HOME', 'a && b', 'a;b', '&& a', "'open", ''])('shellSplit refuses %j', (line) => {
    expect(() => shellSplit(line)).toThrow(SyntaxError);
  });
});
