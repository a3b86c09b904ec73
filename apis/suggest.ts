/**
 * "Did you mean" suggestions, the one implementation: misspelt Orchfile directives, CLEAR targets
 * and service names, and unknown manifest fields and kinds.
 */

export interface ClosestOptions {
  /**
   * Compare case-insensitively (manifest field names). Default: case-sensitive, except that a
   * pure case slip ("from" for FROM) counts as distance 0 and the word itself is never suggested.
   */
  ignoreCase?: boolean;
  /** The largest distance still suggested. Default: a third of the word's length, 1 to 3. */
  maxDistance?: number;
}

/** The closest candidate to `word`, if one is close enough to be a likely typo. */
export function closest(
  word: string,
  candidates: Iterable<string>,
  opts: ClosestOptions = {},
): string | undefined {
  if (word.length === 0 || word.length > 64) return undefined;
  const upper = word.toUpperCase();
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (!opts.ignoreCase && c === word) continue;
    const d = opts.ignoreCase
      ? distance(lower, c.toLowerCase())
      : // A case slip ("from" for FROM) is the most likely mistake of all.
        c.toUpperCase() === upper
        ? 0
        : distance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = opts.maxDistance ?? Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** `did you mean 'X'?`, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const c = closest(word, candidates);
  return c === undefined ? undefined : `did you mean '${c}'?`;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}
