// Which libxdp (or any shared library) a binary links: a QEMU built with af-xdp usually links a
// libxdp >= 1.4 of its own (under /opt or /usr/local, found through its rpath/runpath), not the
// system's libxdp1 that xdplab's own datapath loads. ldd resolves DT_NEEDED with the binary's
// rpath/runpath and the loader's paths as the binary would; the version comes from pkg-config
// next to the library (<libdir>/pkgconfig/<name>.pc) or else from the soname's real file name
// (libxdp.so.1 -> libxdp.so.1.4.3).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type LinkedLibrary =
  | { linked: true; soname: string; path: string; realPath: string; version?: string; versionFrom?: 'pkg-config' | 'file name'; pcFile?: string }
  | { linked: false; soname?: string; reason: string };

/** The `name.so.N => /path` line of ldd's output for library `name` (libxdp), or why not. */
export function parseLdd(text: string, name: string): { soname: string; path?: string } | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^\\s*(${escaped}\\.so(?:\\.[0-9]+)*)\\s+=>\\s+(\\S+)`, 'm').exec(text);
  if (!m) return undefined;
  return m[2] === 'not' ? { soname: m[1]! } : { soname: m[1]!, path: m[2]! };
}

/** libxdp.so.1.4.3 -> 1.4.3; a name without a full version (libxdp.so.1) says nothing. */
export function versionFromFileName(file: string, name: string): string | undefined {
  const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.so\\.(\\d+\\.\\d+(?:\\.\\d+)*)$`).exec(basename(file));
  return m?.[1];
}

/** The Version: of a pkg-config file. */
export function pcVersion(text: string): string | undefined {
  return /^Version:\s*(\S+)/m.exec(text)?.[1];
}

function ldd(binary: string): string | undefined {
  try {
    return execFileSync('ldd', [binary], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // ldd exits 1 for a static binary ("not a dynamic executable"): its stdout still says so.
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || undefined;
  }
}

/** The library `name` (libxdp) that `binary` links, with its path and version, or why none. */
export function linkedLibrary(binary: string, name = 'libxdp'): LinkedLibrary {
  const text = ldd(binary);
  if (text === undefined) return { linked: false, reason: `ldd ${binary} gave no answer` };
  if (/not a dynamic executable/.test(text)) return { linked: false, reason: `${binary} is not a dynamic executable (a static build may contain ${name}; ldd cannot tell)` };
  const found = parseLdd(text, name);
  if (!found) return { linked: false, reason: `${binary} does not link ${name}` };
  if (!found.path) return { linked: false, soname: found.soname, reason: `${binary} needs ${found.soname}, which the loader does not find (its rpath/runpath, LD_LIBRARY_PATH, ld.so.cache)` };
  let realPath = found.path;
  try { realPath = realpathSync(found.path); } catch { /* keep ldd's path */ }
  // pkg-config next to the library (the real file's directory, then the link's).
  const pcFile = [...new Set([dirname(realPath), dirname(found.path)])].map((d) => join(d, 'pkgconfig', `${name}.pc`)).find((f) => existsSync(f));
  let version: string | undefined;
  let versionFrom: 'pkg-config' | 'file name' | undefined;
  if (pcFile) {
    try { version = pcVersion(readFileSync(pcFile, 'utf8')); } catch { /* below */ }
    if (version) versionFrom = 'pkg-config';
  }
  if (!version) {
    version = versionFromFileName(realPath, name);
    if (version) versionFrom = 'file name';
  }
  return { linked: true, soname: found.soname, path: found.path, realPath, ...(version ? { version, versionFrom: versionFrom! } : {}), ...(pcFile && versionFrom === 'pkg-config' ? { pcFile } : {}) };
}

/** One line: "libxdp 1.4.3 (/opt/xdp/lib/libxdp.so.1.4.3, version from pkg-config)". */
export function linkedLibraryText(l: LinkedLibrary, name = 'libxdp'): string {
  if (!l.linked) return `no ${name}: ${l.reason}`;
  const where = l.realPath === l.path ? l.path : `${l.path} -> ${l.realPath}`;
  return `${name} ${l.version ?? '(version unknown)'} (${where}${l.versionFrom ? `, version from ${l.versionFrom === 'pkg-config' ? l.pcFile : 'the file name'}` : ''})`;
}
