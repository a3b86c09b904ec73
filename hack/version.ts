// The version the builds bake in (define __ORUN_VERSION__, read by runtime/version):
// ORUN_BUILD_VERSION when set, else package.json's version plus `git describe --dirty`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function buildVersion(root: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.ORUN_BUILD_VERSION) return env.ORUN_BUILD_VERSION;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  try {
    const described = execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return `${pkg.version}+${described}`;
  } catch {
    return pkg.version;
  }
}
