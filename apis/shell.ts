/**
 * POSIX shell quoting, the one implementation (apis is the bottom layer, so the Orchfile
 * renderers, the SSH edge and the git edge all use it).
 */

/** Characters a shell word may hold unquoted and still read back verbatim. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `s` as one POSIX shell word that the shell turns back into exactly `s`: plain words
 * (`[A-Za-z0-9_@%+=:,./-]`) stay bare unless `always`, anything else is single-quoted with
 * `'` → `'\''`.
 *
 * @example
 * shellQuote("it's") // => 'it'\''s'
 * shellQuote('/opt/orun/') // => /opt/orun/
 * shellQuote('/opt/orun/', { always: true }) // => '/opt/orun/'
 */
export function shellQuote(s: string, opts: { always?: boolean } = {}): string {
  return !opts.always && SAFE.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
