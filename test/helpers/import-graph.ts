// Every module a compiled file can load, found by reading import/export/require/import()
// statements (TypeScript's preProcessFile: comments and strings are no trouble) from file to
// file: local files by path, packages and builtins by specifier. A dynamic import whose
// specifier is not a literal cannot be followed: it is listed so a test can refuse it.
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** Absolute paths of the local files reached, the entries included. */
  files: Set<string>;
  /** Package and builtin specifiers, with the file that imports each first. */
  packages: Map<string, string>;
  /** Files with `import(expression)` that this walk cannot follow. */
  opaque: string[];
}

const NON_LITERAL_IMPORT = /\bimport\s*\(\s*(?!['"`])/;

export function importGraph(entries: string[]): ImportGraph {
  const graph: ImportGraph = { files: new Set(), packages: new Map(), opaque: [] };
  const queue = entries.map((e) => resolve(e));
  while (queue.length) {
    const file = queue.pop()!;
    if (graph.files.has(file)) continue;
    if (!existsSync(file)) throw new Error(`${file} is imported but missing (npm run build)`);
    graph.files.add(file);
    const text = readFileSync(file, 'utf8');
    if (NON_LITERAL_IMPORT.test(text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, ''))) graph.opaque.push(file);
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (spec.startsWith('.') || spec.startsWith('/')) queue.push(resolve(dirname(file), spec));
      else {
        const name = isBuiltin(spec) && !spec.startsWith('node:') ? `node:${spec}` : spec;
        if (!graph.packages.has(name)) graph.packages.set(name, file);
      }
    }
  }
  return graph;
}
