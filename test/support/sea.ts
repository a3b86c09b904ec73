/**
 * The single executable (`npm run dist` → dist/orun-linux-<arch>), built at most once per test
 * run: it is reused when newer than the bundles the e2e global setup built for this run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const SEA = join(ROOT, 'dist', `orun-${process.platform}-${process.arch}`);

/** Path of the single executable, built when missing or older than this run's dist/orun.js. */
export function ensureSea(): string {
  const bundle = join(ROOT, 'dist', 'orun.js');
  const fresh = existsSync(SEA) && existsSync(bundle) && statSync(SEA).mtimeMs >= statSync(bundle).mtimeMs;
  if (!fresh)
    execFileSync(process.execPath, [join(ROOT, 'hack', 'dist.ts')], { cwd: ROOT, stdio: 'inherit' });
  return SEA;
}

/** Builds another single executable with `version` baked in, into `dir` (for upgrade tests). */
export function buildSeaVersion(dir: string, version: string): string {
  execFileSync(process.execPath, [join(ROOT, 'hack', 'dist.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ORUN_DIST_DIR: dir, ORUN_BUILD_VERSION: version },
  });
  return join(dir, `orun-${process.platform}-${process.arch}`);
}
