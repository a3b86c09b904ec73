import { OrunError } from '../../apis/errors.ts';

/** A label selector: `{ app: 'web' }` (equality) or kubectl's `app=web,tier!=db,canary,!legacy`. */
export type LabelSelector = string | Readonly<Record<string, string>>;

type Requirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };

function parse(selector: LabelSelector): Requirement[] {
  if (typeof selector !== 'string')
    return Object.entries(selector).map(([key, value]) => ({ key, op: '=', value }));
  const reqs: Requirement[] = [];
  for (const raw of selector.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^(!?)([A-Za-z0-9._/-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?$/.exec(part);
    if (!m || (m[1] === '!' && m[3] !== undefined)) {
      throw new OrunError('store.bad_selector', `label selector: cannot parse "${part}"`, {
        context: { selector },
      });
    }
    const key = m[2] as string;
    if (m[3] === undefined) reqs.push({ key, op: m[1] === '!' ? '!exists' : 'exists' });
    else reqs.push({ key, op: m[3] === '!=' ? '!=' : '=', value: m[4] ?? '' });
  }
  return reqs;
}

/** A predicate over label maps; throws OrunError `store.bad_selector` on a malformed string. */
export function labelMatcher(
  selector: LabelSelector,
): (labels: Readonly<Record<string, string>> | undefined) => boolean {
  const reqs = parse(selector);
  return (labels) =>
    reqs.every((r) => {
      const v = labels?.[r.key];
      switch (r.op) {
        case '=':
          return v === r.value;
        case '!=':
          return v !== r.value;
        case 'exists':
          return v !== undefined;
        case '!exists':
          return v === undefined;
      }
    });
}
