import { defineConfig } from 'vitest/config';

// Projects by what the tests need: `unit` nothing but `npm ci` (no tool, no cluster, no network);
// `tools` the real promtool, Prometheus and helm (test/setup/tools.ts finds them or says what to
// install); `integration` a real kube-apiserver (api mode); `full` the scheduler, controllers and
// simulated GPU nodes too. Each cluster project starts one cluster for the whole run and tears it
// down at the end.
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
          name: 'tools',
          include: ['test/tools/**/*.test.ts'],
          globalSetup: ['test/setup/tools.ts'],
          testTimeout: 60_000,
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
          setupFiles: ['test/setup/full-file.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
