/**
 * Building remote commands without a shell injection. An SSH `exec` hands one string to the
 * remote user's shell, so every argument goes through `shellQuote`: the whole value is wrapped in
 * single quotes (inside which a POSIX shell interprets nothing) and each `'` becomes `'\''`.
 * Never paste a manifest value into a command any other way; pass bulk data via stdin or SFTP.
 */
import { OrunError } from '../../apis/errors.ts';
import { shellQuote as quoteWord } from '../../apis/shell.ts';

/** Error codes of this module (OrunError.code). */
export const QuoteErrorCode = {
  /** A NUL byte cannot be passed in a command line at all. */
  NulInArgument: 'SshNulInArgument',
} as const;

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One argument as a POSIX shell word that the shell turns back into exactly `arg`.
 * Plain words (`[A-Za-z0-9_@%+=:,./-]`) stay readable; anything else is single-quoted.
 *
 * @example
 * shellQuote("it's") // => 'it'\''s'
 * shellQuote('/opt/orun/') // => /opt/orun/
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0'))
    throw new OrunError(QuoteErrorCode.NulInArgument, 'ssh: quote argument: it contains a NUL byte');
  return quoteWord(arg);
}

/** An argv as one shell command line: each argument quoted, joined with spaces. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new RangeError('shellCommand: empty argv');
  return argv.map(shellQuote).join(' ');
}

/** Commands that run one after the other while each succeeds: `a && b && c`. */
export function shellAnd(...argvs: readonly (readonly string[])[]): string {
  return argvs.map(shellCommand).join(' && ');
}

/**
 * The inverse of `shellCommand` for the subset it produces (plain words, single-quoted runs and
 * `\'`): used by fakes to read back the argv of a command. Throws on anything else (double
 * quotes, `$`, operators), so a test notices a command that was not built with shellQuote.
 */
export function shellSplit(line: string): string[] {
  const list = shellSplitList(line);
  if (list.length !== 1) throw new SyntaxError('shellSplit: more than one command');
  return list[0] ?? [];
}

/** The inverse of `shellAnd`: the argv of each command joined by an unquoted `&&`. */
export function shellSplitList(line: string): string[][] {
  const out: string[][] = [];
  let argv: string[] = [];
  let word: string | undefined;
  const endWord = () => {
    if (word !== undefined) argv.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (c === ' ') {
      endWord();
    } else if (c === '&' && line.charAt(i + 1) === '&' && word === undefined && argv.length > 0) {
      out.push(argv);
      argv = [];
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new SyntaxError(`shellSplit: unterminated quote at ${i}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && line.charAt(i + 1) === "'") {
      word = (word ?? '') + "'";
      i++;
    } else if (SAFE.test(c)) {
      word = (word ?? '') + c;
    } else {
      throw new SyntaxError(`shellSplit: unquoted ${JSON.stringify(c)} at ${i}`);
    }
  }
  endWord();
  if (argv.length === 0) throw new SyntaxError('shellSplit: empty command');
  out.push(argv);
  return out;
}
