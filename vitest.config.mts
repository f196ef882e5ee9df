import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `import … from 'mmu-race'` in examples/ and test fixtures means this package's own sources.
  resolve: { alias: { 'mmu-race': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts', 'properties/**/*.test.ts'],
    testTimeout: 120_000,
    isolate: false,
    // every core (vitest's default leaves one idle: on the 2-core machines `npm test` ran on one worker)
    maxWorkers: availableParallelism(),
    reporters: ['default'],
  },
});
