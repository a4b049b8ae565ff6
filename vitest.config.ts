import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['models/**/*.test.ts', 'harness/**/*.test.ts', 'corpus/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['node_modules', 'dist'],
    testTimeout: 60_000,
    globalSetup: ['harness/testing/global-setup.ts'],
  },
});
