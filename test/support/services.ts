/**
 * E2E tests use real services. A missing one is a failure with the fix spelled out, never a
 * silent skip (CI runs with CI=true and must see it).
 */
import { execFileSync } from 'node:child_process';

export class MissingServiceError extends Error {
  constructor(what: string, detail: string) {
    super(
      `${what} is not available (${detail}). Run \`bash hack/install-deps.sh && bash hack/images.sh\` ` +
        `as root to install and start it.`,
    );
    this.name = 'MissingServiceError';
  }
}

/** Throws MissingServiceError unless `cmd args...` exits 0. */
export function requireCommand(what: string, cmd: string, args: string[] = ['--version']): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  } catch (err) {
    throw new MissingServiceError(what, `\`${[cmd, ...args].join(' ')}\` failed: ${(err as Error).message}`);
  }
}

export function requireDocker(): void {
  requireCommand('dockerd', 'docker', ['version']);
}

export const TEST_IMAGE = 'orun-test/busybox:1';

export function requireTestImage(): void {
  requireDocker();
  requireCommand(`the test image ${TEST_IMAGE}`, 'docker', ['image', 'inspect', TEST_IMAGE]);
}

/** Real application images built from Debian packages by `hack/app-images.sh` (CI builds them). */
export const APP_IMAGES = {
  nginx: 'orun-test/nginx:1',
  python: 'orun-test/python:1',
  redis: 'orun-test/redis:1',
  postgres: 'orun-test/postgres:1',
} as const;

export function requireAppImage(image: string): void {
  requireDocker();
  requireCommand(`the app image ${image} (bash hack/app-images.sh)`, 'docker', ['image', 'inspect', image]);
}
