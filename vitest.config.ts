import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@rocketry\/broker$/, replacement: r('./broker/src/index.ts') },
      { find: /^@rocketry\/broker\/(.*)$/, replacement: r('./broker/src/') + '$1' },
      { find: /^@rocketry\/framework$/, replacement: r('./framework/src/index.ts') },
      { find: /^@rocketry\/framework\/(.*)$/, replacement: r('./framework/src/') + '$1' },
      { find: /^@rocketry\/nestjs$/, replacement: r('./starters/nestjs/src/index.ts') },
      { find: /^@rocketry\/inversify$/, replacement: r('./starters/inversify/src/index.ts') },
    ],
  },
  test: {
    include: ['broker/src/**/*.spec.ts', 'framework/src/**/*.spec.ts', 'starters/*/src/**/*.spec.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/compat/**', 'test/bench/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
