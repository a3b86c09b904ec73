// Builds the CLI bundles once, so e2e tests run exactly what users run (dist/*.js).
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['hack/build.ts'], { stdio: 'inherit' });
}
