/**
 * Splits Orchfile text into directive lines. Lines are trimmed (indentation is allowed), blank
 * lines and whole-line `#` comments are dropped; the directive is the first word and the value
 * is the rest of the line. Columns are 1-based and count UTF-16 code units.
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

const LEADING_WS = /^\s*/;
const WS = /\s/;

export function lex(text: string): DirectiveLine[] {
  const out: DirectiveLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const indent = LEADING_WS.exec(raw)![0].length;
    const body = raw.slice(indent).trimEnd();
    if (body.length === 0 || body.startsWith('#')) continue;
    const split = body.search(WS);
    const directive = split < 0 ? body : body.slice(0, split);
    let value = '';
    let valueOffset = directive.length;
    if (split >= 0) {
      const rest = body.slice(split);
      const restIndent = LEADING_WS.exec(rest)![0].length;
      value = rest.slice(restIndent);
      valueOffset = split + restIndent;
    }
    out.push({
      line: i + 1,
      col: indent + 1,
      directive,
      value,
      valueCol: indent + valueOffset + 1,
    });
  }
  return out;
}
