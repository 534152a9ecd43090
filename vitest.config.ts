import { defineConfig } from 'vitest/config';

// Three projects: pure unit tests; integration tests against a real kube-apiserver (api mode);
// tests that need the scheduler, controllers and simulated GPU nodes (full mode).
// Each cluster project starts one cluster for the whole run and tears it down at the end.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/integration/**/*.full.test.ts'],
          globalSetup: ['test/setup/cluster-api.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'full',
          include: ['test/integration/**/*.full.test.ts'],
          globalSetup: ['test/setup/cluster-full.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
