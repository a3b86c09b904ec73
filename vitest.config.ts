import { defineConfig } from 'vitest/config';

// Two tiers: unit tests sit beside the code; e2e tests in test/ run against real services
// (dockerd, caddy, pebble, git, sshd, prometheus) that hack/install-deps.sh installs.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'apis/**/*.test.ts',
            'runtime/**/*.test.ts',
            'controllers/**/*.test.ts',
            'cmd/**/*.test.ts',
          ],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          globalSetup: ['test/support/global-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
