// The desktop shell's main process holds no FFI: from dist/electron/main.js (and the preload),
// following every import, no file under dist/native/ and no koffi is reachable, only Electron,
// zod and Node's builtins. The engine host, which does load the engine, is the control: the
// same walk from it does reach native/ and koffi.
import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distPath } from '../../benchmarks/paths.js';
import { ENGINE_HOST_PATH } from '../../benchmarks/server/engine-client.js';
import { importGraph } from '../helpers/import-graph.js';

const nativeDir = distPath('native') + sep;
const underNative = (files: Set<string>) => [...files].filter((f) => f.startsWith(nativeDir));

describe('the desktop shell loads no FFI', () => {
  const main = distPath('electron', 'main.js');
  const preload = distPath('electron', 'preload.cjs');

  it('reaches nothing under native/ and no koffi from electron/main.js', () => {
    expect(existsSync(main), `${main} is missing: npm run build`).toBe(true);
    const graph = importGraph([main, preload]);
    expect(underNative(graph.files)).toEqual([]);
    expect(graph.opaque).toEqual([]);
    const packages = [...graph.packages.keys()];
    expect(packages.filter((p) => p.includes('koffi'))).toEqual([]);
    expect(packages.filter((p) => !p.startsWith('node:')).sort()).toEqual(['electron', 'zod']);
    // The forwarding code is part of it (so the walk did follow main's imports).
    expect(graph.files).toContain(distPath('benchmarks', 'server', 'engine-client.js'));
    expect(graph.files).not.toContain(ENGINE_HOST_PATH);
  });

  it('does reach native/ and koffi from the engine host (the control)', () => {
    const graph = importGraph([ENGINE_HOST_PATH]);
    expect(underNative(graph.files).length).toBeGreaterThan(0);
    expect(graph.packages.has('koffi')).toBe(true);
  });
});
