/** KIND arguments: names, plurals and short names (`deploy`, `svc`, `no`, `sg`), and `all`. */
import { RESOURCES, resolveResource, type ResourceType } from '../../api/resources.ts';
import { UsageError } from './context.ts';

/** The resources `typed` names (`all` is every kind but nodes, as kubectl's all skips cluster objects). */
export function resolveKinds(typed: string): ResourceType[] {
  if (typed.toLowerCase() === 'all') return RESOURCES.filter((r) => r.kind !== 'Node');
  const r = resolveResource(typed);
  if (r === undefined) throw unknownKind(typed);
  return [r];
}

export function resolveKind(typed: string): ResourceType {
  const r = resolveResource(typed);
  if (r === undefined) throw unknownKind(typed);
  return r;
}

function unknownKind(typed: string): UsageError {
  const names = RESOURCES.flatMap((r) => [r.plural, r.singular, ...r.shortNames]);
  const best = names.map((n) => ({ n, d: distance(typed.toLowerCase(), n) })).sort((a, b) => a.d - b.d)[0];
  const hint = best !== undefined && best.d <= 3 ? `; did you mean "${best.n}"?` : '';
  const known = RESOURCES.map((r) => `${r.plural} (${r.shortNames.join(', ')})`).join(', ');
  return new UsageError(
    `the server doesn't have a resource type "${typed}"${hint}\nknown types: ${known}, all`,
  );
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
