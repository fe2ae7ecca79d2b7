// The renderer: Svelte 5 + Chart.js, built to dist/renderer/ and loaded by both faces (Electron's
// app:// protocol and the web server). Relative asset URLs, no inline scripts (the CSP of both
// faces forbids them), no source of the page outside this folder but LabApi's types.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // A module preload polyfill would be an inline script: the CSP forbids those.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
