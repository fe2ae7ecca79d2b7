// What the tests run as another user (UNPRIVILEGED: uid 65534), where that user can read it. A
// checkout inside a 0700 directory (as /root is) keeps such a process out of the fixtures, dist/
// and node_modules/; then the parts it loads are copied, once per test file, into a
// world-readable temporary directory with the checkout's layout (the fixtures import
// ../../dist/..., dist/ finds the project root by its package.json, node_modules/ is resolved
// from there), and removed after the file's tests, whatever they did. Checking costs a find over
// ~1500 files (0.2 s); a copy is ~20 MB, most of it zod, chart.js and koffi (~1.5 s).
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Where Node finds package `name` from `dir`: the nearest node_modules/name up the tree. */
function findPackage(name: string, dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules', name, 'package.json'))) return join(d, 'node_modules', name);
    if (dirname(d) === d) return undefined;
  }
}

/** The runtime packages (package.json dependencies and what they need) and where they are installed. */
function runtimePackages(): Map<string, string> {
  const deps = (dir: string): string[] => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  };
  const found = new Map<string, string>();
  const todo = deps(ROOT).map((name) => ({ name, from: ROOT }));
  for (let next = todo.pop(); next; next = todo.pop()) {
    if (found.has(next.name)) continue;
    // Optional packages for other platforms are not installed.
    const dir = findPackage(next.name, next.from);
    if (!dir) continue;
    found.set(next.name, dir);
    todo.push(...deps(dir).map((name) => ({ name, from: dir })));
  }
  return found;
}

/** What a process of the other user loads (fixtures, the CLI, the compiled code, its packages): source path -> path in a copy. */
function parts(): Array<{ from: string; to: string }> {
  const own = ['package.json', 'bin', 'dist/native', 'dist/benchmarks', 'test/fixtures'].map((p) => ({ from: join(ROOT, p), to: p }));
  return [...own, ...[...runtimePackages()].map(([name, from]) => ({ from, to: join('node_modules', name) }))];
}

/** Whether the user `wrap` switches to can read (and traverse) all of `paths`, following symlinks. */
function readableBy(wrap: string[], paths: string[]): boolean {
  const [cmd, ...args] = [...wrap, 'find', '-L', ...paths, '!', '-readable', '-print', '-quit'];
  // From /: find fails (status 1) when the other user cannot return to a 0700 working directory.
  const r = spawnSync(cmd!, args, { cwd: '/', encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 && r.stdout === '';
}

/** u+r becomes a+r, u+x a+x, all the way down. */
function openUp(path: string): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const e of readdirSync(path)) openUp(join(path, e));
  } else {
    chmodSync(path, (st.mode & 0o7777) | 0o444 | (st.mode & 0o100 ? 0o111 : 0));
  }
}

/**
 * Why `wrap`'s user could not run from a copy either: os.tmpdir() must be reachable for it.
 * Undefined when it can. (requirements.ts asks this before a suite runs.)
 */
export function copyUnreadableBy(wrap: string[]): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'xdplab-probe-'));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'probe'), '');
    chmodSync(join(dir, 'probe'), 0o644);
    if (readableBy(wrap, [join(dir, 'probe')])) return undefined;
    const who = wrap.find((a) => a.startsWith('--reuid='))?.slice('--reuid='.length);
    return `needs a temporary directory that ${who ? `uid ${who}` : wrap.join(' ')} can read, for a copy of what it runs; ${tmpdir()} is not (set TMPDIR)`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Checkout {
  /** The directory the other user runs from: the checkout itself, or the copy. */
  readonly root: string;
  /** Whether root is a copy (the checkout was unreadable for the user). */
  readonly copied: boolean;
  path(...parts: string[]): string;
  fixture(name: string): string;
}

function prepare(wrap: string[]): Checkout & { remove(): void } {
  const needed = parts();
  const at = (root: string): Checkout & { remove(): void } => ({
    root, copied: root !== ROOT,
    path: (...p) => join(root, ...p),
    fixture: (name) => join(root, 'test', 'fixtures', name),
    remove: () => { if (root !== ROOT) rmSync(root, { recursive: true, force: true }); },
  });
  const absent = needed.filter((p) => !existsSync(p.from)).map((p) => p.to);
  if (absent.length) throw new Error(`missing ${absent.join(', ')}: run npm run build first`);
  if (readableBy(wrap, needed.map((p) => p.from))) return at(ROOT);
  const dir = mkdtempSync(join(tmpdir(), 'xdplab-readable-'));
  const copy = at(dir);
  try {
    for (const p of needed) cpSync(p.from, join(dir, p.to), { recursive: true, dereference: true });
    openUp(dir);
    if (!readableBy(wrap, needed.map((p) => join(dir, p.to)))) throw new Error(`${wrap.join(' ')} cannot read the copy of the checkout in ${dir} either`);
    return copy;
  } catch (err) {
    copy.remove();
    throw err;
  }
}

/**
 * For the tests of the enclosing describe(): where processes run through `wrap` (setpriv ...)
 * find the fixtures, bin/ and dist/. Checked (and copied if need be) when a test first asks,
 * removed in afterAll.
 */
export function checkoutFor(wrap: string[]): Checkout {
  let tree: (Checkout & { remove(): void }) | undefined;
  afterAll(() => { tree?.remove(); tree = undefined; });
  const get = (): Checkout => (tree ??= prepare(wrap));
  return {
    get root() { return get().root; },
    get copied() { return get().copied; },
    path: (...p) => get().path(...p),
    fixture: (name) => get().fixture(name),
  };
}
