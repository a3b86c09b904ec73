/**
 * Kubernetes label selectors as typed on the command line and sent as `?labelSelector=`:
 * `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, joined by commas (AND).
 */
import { OrunError } from '../../apis/errors.ts';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: readonly string[] }
  | { key: string; op: 'exists' | 'doesnotexist' };

export interface LabelSelector {
  readonly requirements: readonly Requirement[];
  /** The selector as typed; empty selects everything. */
  readonly text: string;
}

export const EVERYTHING: LabelSelector = { requirements: [], text: '' };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function invalid(text: string, why: string): OrunError {
  return new OrunError('InvalidLabelSelector', `label selector ${JSON.stringify(text)}: ${why}`, {
    context: { selector: text },
  });
}

/** Splits on commas that are not inside `( )`. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim());
}

function checkKey(text: string, key: string): string {
  if (!KEY.test(key)) throw invalid(text, `invalid label key ${JSON.stringify(key)}`);
  return key;
}

function checkValue(text: string, value: string): string {
  if (!VALUE.test(value)) throw invalid(text, `invalid label value ${JSON.stringify(value)}`);
  return value;
}

function parseTerm(text: string, term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (set !== null) {
    const values = (set[3] ?? '').split(',').map((v) => checkValue(text, v.trim()));
    return { key: checkKey(text, set[1] ?? ''), op: set[2] === 'in' ? 'in' : 'notin', values };
  }
  const eq = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (eq !== null) {
    const value = checkValue(text, eq[3] ?? '');
    return { key: checkKey(text, eq[1] ?? ''), op: eq[2] === '!=' ? 'notin' : 'in', values: [value] };
  }
  if (term.startsWith('!')) return { key: checkKey(text, term.slice(1).trim()), op: 'doesnotexist' };
  return { key: checkKey(text, term), op: 'exists' };
}

/** Parses a selector; throws OrunError `InvalidLabelSelector` naming the bad part. */
export function parseSelector(text: string | undefined): LabelSelector {
  const trimmed = (text ?? '').trim();
  if (trimmed === '') return EVERYTHING;
  const requirements = splitTerms(trimmed).map((term) => {
    if (term === '') throw invalid(trimmed, 'empty requirement');
    return parseTerm(trimmed, term);
  });
  return { requirements, text: trimmed };
}

/** True when `labels` satisfy every requirement. */
export function matchesSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> = {},
): boolean {
  return selector.requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key] ?? '');
      case 'notin':
        return !has || !r.values.includes(labels[r.key] ?? '');
    }
  });
}
