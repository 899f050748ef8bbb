import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@flotilla/source'] },
  ssr: { resolve: { conditions: ['@flotilla/source'], externalConditions: ['@flotilla/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['vitest.global-setup.ts'],
    setupFiles: ['vitest.setup.ts'],
  },
});
