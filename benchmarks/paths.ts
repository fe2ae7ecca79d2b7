// The project's root, found from this file whether it runs from source (tests) or from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'xdplab') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('xdplab: cannot find the project root (package.json named xdplab)');
    dir = up;
  }
}

export const PROJECT_ROOT = find();

/** Compiled JavaScript lives under dist/ (worker processes run it). */
export function distPath(...parts: string[]): string {
  return join(PROJECT_ROOT, 'dist', ...parts);
}
