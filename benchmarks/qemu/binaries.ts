// The QEMU binaries the app may choose between. The renderer is untrusted, so it never names a
// path to run: it picks one of these, found by the engine ($XDPLAB_QEMU, qemu-system-x86_64 on
// PATH, the usual prefixes of self-built QEMUs, and the paths an engineer lists in the settings
// file, which only they edit).
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LabError } from '../contracts/errors.js';
import { DEFAULT_QEMU, resolveQemuBinary } from './capabilities.js';

/** $XDG_CONFIG_HOME/xdplab/settings.json: { "qemuBinaries": ["/home/me/qemu/build/qemu-system-x86_64"] } */
export function settingsFile(): string {
  return process.env.XDPLAB_SETTINGS ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'xdplab', 'settings.json');
}

function listedInSettings(): string[] {
  const file = settingsFile();
  if (!existsSync(file)) return [];
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { qemuBinaries?: unknown };
    return Array.isArray(s.qemuBinaries) ? s.qemuBinaries.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Builds under /opt/<name>/bin and ~/qemu*: where engineers put QEMUs of their own. */
function wellKnown(): string[] {
  const out = ['/usr/local/bin/qemu-system-x86_64'];
  for (const base of ['/opt', homedir()]) {
    let names: string[] = [];
    try { names = readdirSync(base); } catch { continue; }
    for (const n of names.filter((n) => base === '/opt' || n.startsWith('qemu'))) {
      out.push(join(base, n, 'bin', 'qemu-system-x86_64'), join(base, n, 'build', 'qemu-system-x86_64'));
    }
  }
  return out;
}

/** Every QEMU found, by real path, the default one first. */
export function discoverQemuBinaries(): string[] {
  const found: string[] = [];
  const add = (p: string | undefined) => {
    if (!p || !executable(p)) return;
    const real = realpathSync(p);
    if (!found.includes(real)) found.push(real);
  };
  try { add(resolveQemuBinary().realPath); } catch { /* none on PATH */ }
  if (process.env.XDPLAB_QEMU) add(process.env.XDPLAB_QEMU);
  try { add(resolveQemuBinary(DEFAULT_QEMU).realPath); } catch { /* none */ }
  for (const p of [...listedInSettings(), ...wellKnown()]) add(p);
  return found;
}

/** `path` when it is one of the discovered binaries; otherwise an error listing them. */
export function checkDiscovered(path: string, known = discoverQemuBinaries()): string {
  let real = path;
  try { real = realpathSync(path); } catch { /* reported below */ }
  if (known.includes(real)) return real;
  throw new LabError({
    code: 'EINVALIDOPTION', field: 'path',
    message: `path: '${path}' is not a QEMU xdplab found; allowed: ${known.join(', ') || '(none found)'}`,
    hint: `list a QEMU of your own in ${settingsFile()} ("qemuBinaries": [...]) or set XDPLAB_QEMU, then choose it here`,
  });
}
