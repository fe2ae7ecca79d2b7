// The renderer: Svelte 5 + Chart.js, built to dist/renderer/ and loaded by both faces (Electron's
// app:// protocol and the web server). Relative asset URLs, no inline scripts (the CSP of both
// faces forbids them), no source of the page outside this folder but LabApi's types and the
// engine's pure modules made for it (contracts/vocabulary.ts, report/views.ts, report/environment-rows.ts).
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * hdr-histogram-js probes for Node's zlib with `eval('require("zlib")…')` when it loads, and
 * falls back to pako when that throws. The faces' CSP forbids eval (a violation is reported on
 * every page load), so the probe is replaced by the throw it would end in: same pako path, no eval.
 */
function hdrHistogramWithoutEval(): Plugin {
  return {
    name: 'xdplab:hdr-histogram-without-eval',
    transform(code, id) {
      if (!id.includes('hdr-histogram-js') || !code.includes('eval(')) return null;
      return { code: code.replace(/eval\((['"])require\("zlib"\)\.(?:de|in)flateSync\1\)/g, '(() => { throw new Error("no zlib in the browser"); })()'), map: null };
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte(), hdrHistogramWithoutEval()],
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
