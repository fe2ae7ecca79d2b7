import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests create namespaces, attach XDP programs and busy-poll: one file at a
    // time keeps them from starving each other on a 2-core machine.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
        },
      },
      {
        // Renderer components (Svelte 5) in a DOM: the browser build of svelte, happy-dom.
        extends: true,
        plugins: [svelte({ configFile: 'renderer/svelte.config.js', compilerOptions: { css: 'injected' } })],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'renderer',
          environment: 'happy-dom',
          include: ['test/renderer/**/*.test.ts'],
        },
      },
    ],
  },
});
