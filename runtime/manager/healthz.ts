/** A health or readiness check: resolves when healthy, throws (with the reason) when not. */
export type Checker = () => void | Promise<void>;

export interface CheckResponse {
  status: 200 | 404 | 500;
  body: string;
}

/**
 * Runs `checks` and renders controller-runtime's healthz format: `ok`, or (failure, or
 * `?verbose`) one `[+]name ok` / `[-]name failed: reason` line per check and a summary line.
 * `?exclude=name` skips a check; `subpath` runs one check alone.
 */
export async function runChecks(
  endpoint: string,
  checks: ReadonlyMap<string, Checker>,
  opts: { verbose?: boolean; exclude?: readonly string[]; subpath?: string } = {},
): Promise<CheckResponse> {
  if (opts.subpath) {
    const check = checks.get(opts.subpath);
    if (!check) return { status: 404, body: `${endpoint} check ${opts.subpath} not found\n` };
    const err = await failure(check);
    return err === undefined
      ? { status: 200, body: 'ok' }
      : { status: 500, body: `internal server error: ${err}\n` };
  }
  const excluded = new Set(opts.exclude ?? []);
  const names = [...checks.keys()].sort();
  if (names.length === 0) names.push('ping');
  const lines: string[] = [];
  let failed = false;
  for (const name of names) {
    if (excluded.delete(name)) {
      lines.push(`[+]${name} excluded: ok`);
      continue;
    }
    const check = checks.get(name);
    const err = check ? await failure(check) : undefined;
    if (err === undefined) lines.push(`[+]${name} ok`);
    else {
      failed = true;
      lines.push(`[-]${name} failed: ${err}`);
    }
  }
  if (excluded.size > 0) {
    lines.push(
      `warn: some health checks cannot be excluded: no matches for ${[...excluded].map((x) => `"${x}"`).join(',')}`,
    );
  }
  if (!failed && !opts.verbose) return { status: 200, body: 'ok' };
  lines.push(`${endpoint} check ${failed ? 'failed' : 'passed'}`);
  return { status: failed ? 500 : 200, body: lines.join('\n') + '\n' };
}

async function failure(check: Checker): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return msg.split('\n')[0] || 'failed';
  }
}
