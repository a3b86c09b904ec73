/**
 * Splits Orchfile text into directive lines. Lines are trimmed (indentation is allowed), blank
 * lines and whole-line `#` comments are dropped; the directive is the first word and the value
 * is the rest of the line. Columns are 1-based and count UTF-16 code units.
 *
 * One pass over the text by character code: the only strings made are each line's directive and
 * value (this runs once per line of every Orchfile, so it allocates as little as it can).
 */

export interface DirectiveLine {
  readonly line: number;
  /** Column of the directive word. */
  readonly col: number;
  readonly directive: string;
  /** The rest of the line, trimmed; '' when there is none. */
  readonly value: string;
  /** Column where `value` starts (just past the directive when there is no value). */
  readonly valueCol: number;
}

const HASH = 0x23;

/** The RegExp `\s` set, which is also what `String.prototype.trim` removes. */
export function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * A cursor over the directive lines of `text`: `next()` moves to the next one and returns false at
 * the end. The cursor itself is the current line (one object for the whole text, so a line costs
 * only its two strings); read its fields before the next `next()`.
 */
export class Lexer implements DirectiveLine {
  line = 0;
  col = 0;
  directive = '';
  value = '';
  valueCol = 0;
  #start = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  next(): boolean {
    const text = this.#text;
    const n = text.length;
    let start = this.#start;
    while (start <= n) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = n;
      this.line++;
      let first = start;
      while (first < end && isWhitespace(text.charCodeAt(first))) first++;
      let last = end;
      while (last > first && isWhitespace(text.charCodeAt(last - 1))) last--;
      if (first < last && text.charCodeAt(first) !== HASH) {
        let split = first;
        while (split < last && !isWhitespace(text.charCodeAt(split))) split++;
        let valueStart = split;
        while (valueStart < last && isWhitespace(text.charCodeAt(valueStart))) valueStart++;
        this.col = first - start + 1;
        this.directive = text.slice(first, split);
        this.value = text.slice(valueStart, last);
        this.valueCol = valueStart - start + 1;
        this.#start = end + 1;
        return true;
      }
      start = end + 1;
    }
    this.#start = start;
    return false;
  }
}

/** Every directive line of `text`, as separate objects. */
export function lex(text: string): DirectiveLine[] {
  const out: DirectiveLine[] = [];
  for (const l = new Lexer(text); l.next();) {
    out.push({ line: l.line, col: l.col, directive: l.directive, value: l.value, valueCol: l.valueCol });
  }
  return out;
}
