/**
 * HEALTHCHECK as the spec defines it, always from the host's view: an http(s) URL expects 2xx
 * (3xx too, as Kubernetes probes), anything else is a shell command expecting exit 0.
 */
import { healthcheckKind } from '../../apis/orchfile/index.ts';
import { probeHTTP } from '../probe/http.ts';
import type { ProcessRunner } from '../process/index.ts';

export interface HealthResult {
  readonly ok: boolean;
  readonly message: string;
}

/** One check; never throws. `timeoutMs` bounds it. */
export type HealthChecker = (check: string, opts: HealthCheckContext) => Promise<HealthResult>;

export interface HealthCheckContext {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** The default checker: probeHTTP for URLs, `runner.exec` for commands. */
export function defaultHealthChecker(runner: ProcessRunner): HealthChecker {
  return async (check, ctx) => {
    if (healthcheckKind(check) === 'http') {
      let url: URL;
      try {
        url = new URL(check);
      } catch {
        return { ok: false, message: `invalid HEALTHCHECK URL ${check}` };
      }
      if (url.protocol === 'https:') {
        // probeHTTP speaks plain HTTP only; an https check runs through curl-like tools if present.
        return execCheck(runner, `wget -q -O /dev/null --no-check-certificate '${check}'`, ctx);
      }
      const r = await probeHTTP({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? 80 : Number(url.port),
        path: `${url.pathname}${url.search}`,
        timeoutMs: ctx.timeoutMs,
        signal: ctx.signal,
      });
      return { ok: r.ok, message: r.message };
    }
    return execCheck(runner, check, ctx);
  };
}

async function execCheck(
  runner: ProcessRunner,
  command: string,
  ctx: HealthCheckContext,
): Promise<HealthResult> {
  const r = await runner.exec(command, {
    env: ctx.env,
    cwd: ctx.cwd,
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });
  if (r.code === 0) return { ok: true, message: 'exit code 0' };
  const why = r.timedOut
    ? `timed out after ${ctx.timeoutMs}ms`
    : r.code === null
      ? `killed by ${r.signal}`
      : `exit code ${r.code}`;
  const out = r.output.trim().split('\n').at(-1) ?? '';
  return { ok: false, message: `${command}: ${why}${out === '' ? '' : `: ${out}`}` };
}
