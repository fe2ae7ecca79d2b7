// What a QEMU binary can do, asked of the binary itself: its version, `-netdev help`, the
// Netdev union of its `query-qmp-schema` (which drivers exist, with which members; whether
// NetdevAFXDPOptions is there), its accelerators, whether KVM is usable here, and the data
// directories (-L) to pass when it is not the system's QEMU. The binary's facts are cached per
// binary (real path + mtime + size); the KVM probe is about this host and runs every time.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { LabError } from '../contracts/errors.js';
import { compareVersions, parseNetdevHelp, parseQemuVersion } from '../doctor/checks.js';
import { runTool, which } from '../lab/exec.js';
import { probeKvm } from '../../native/index.js';
import { DRIVERS, NETDEV_TYPES, driverOf, type NetdevType } from './netdev/drivers.js';
import { objectSpec } from './netdev/fields.js';
import { QmpClient, type QmpSchemaEntry, type QmpVersion } from './qmp.js';

export const DEFAULT_QEMU = 'qemu-system-x86_64';
/** Bumped when the cached facts change shape. */
export const CAPABILITIES_CACHE_VERSION = 2;

/** Data directories of the distribution's QEMU (Debian: firmware from seabios and ipxe-qemu). */
export const SYSTEM_DATA_DIRS = ['/usr/share/qemu', '/usr/share/seabios', '/usr/lib/ipxe/qemu'];
const SYSTEM_BIN_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

export interface QemuBinary {
  /** What was asked for: the --qemu value, $XDPLAB_QEMU, or qemu-system-x86_64. */
  asked: string;
  /** Where that was found (PATH lookup). */
  path: string;
  /** The file itself, symlinks resolved. */
  realPath: string;
  /** Installed by the distribution (in /usr/bin): needs no -L. */
  system: boolean;
  source: 'option' | 'env' | 'default';
}

/** The QEMU binary to use: an explicit path, else $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. */
export function resolveQemuBinary(explicit?: string): QemuBinary {
  const fromEnv = process.env.XDPLAB_QEMU;
  const source: QemuBinary['source'] = explicit ? 'option' : fromEnv ? 'env' : 'default';
  const asked = explicit || fromEnv || DEFAULT_QEMU;
  const path = which(asked);
  if (!path) {
    const how = source === 'option' ? 'the --qemu path' : source === 'env' ? '$XDPLAB_QEMU' : `${DEFAULT_QEMU} on PATH`;
    throw new LabError({
      code: 'QEMU_NOT_FOUND', ...(source === 'option' ? { field: 'qemu' } : {}),
      message: `QEMU not found: ${how} (${asked}) is not an executable file`,
      hint: 'install qemu-system-x86 (npm run setup), or point --qemu PATH or XDPLAB_QEMU at a QEMU binary',
    });
  }
  const realPath = realpathSync(path);
  const system = SYSTEM_BIN_DIRS.includes(dirname(realPath)) && !realPath.startsWith('/usr/local/');
  return { asked, path, realPath, system, source };
}

/** The -L directories for a binary: none for the system's QEMU; for another, its own data
 * (<prefix>/share/qemu for an installed one, pc-bios for a build tree) first, then the system
 * directories as fallbacks. Only directories that exist. */
export function dataDirsFor(binary: Pick<QemuBinary, 'realPath' | 'system'>): string[] {
  if (binary.system) return [];
  const dir = dirname(binary.realPath);
  const own: string[] = [];
  if (basename(dir) === 'bin') own.push(join(dirname(dir), 'share', 'qemu'));
  own.push(join(dir, 'pc-bios'), join(dirname(dir), 'pc-bios'));
  const dirs = [...own, ...SYSTEM_DATA_DIRS].filter((d) => { try { return statSync(d).isDirectory(); } catch { return false; } });
  return [...new Set(dirs)];
}

/** ['-L', dir, ...] for a QEMU command line. */
export function dataDirArgs(dirs: string[]): string[] {
  return dirs.flatMap((d) => ['-L', d]);
}

export interface SchemaMember { name: string; type: string; optional: boolean }

/** The facts read from the binary; what is cached. */
export interface QemuFacts {
  version: string;
  versionText: string;
  /** query-version's package string ("Debian 1:10.0.2+ds-2..."). */
  package?: string;
  netdevHelp: string[];
  accelerators: string[];
  /** The Netdev union of query-qmp-schema: case -> members of its options struct. */
  netdevUnion?: Record<string, SchemaMember[]>;
  /** Why query-qmp-schema could not be read (then netdevUnion is absent). */
  schemaProblem?: string;
  /** The QMP commands of query-qmp-schema, sorted (a scenario's timeline is checked against them). */
  qmpCommands?: string[];
}

export interface DriverAvailability {
  type: NetdevType;
  available: boolean;
  /** Why not: "this QEMU lacks af-xdp: built without libxdp >= 1.4 (...)". */
  reason?: string;
  /** Members this binary's schema has for the driver. */
  members?: string[];
  /** Members xdplab models that this binary lacks (an older QEMU): do not offer them. */
  missingMembers?: string[];
  /** Members this binary has that xdplab does not model (a newer QEMU). */
  extraMembers?: string[];
}

export interface QemuCapabilities extends QemuFacts {
  binary: QemuBinary & { mtimeMs: number; size: number };
  drivers: Record<NetdevType, DriverAvailability>;
  /** NetdevAFXDPOptions in this binary's schema, and its members. */
  afXdp: { present: boolean; members?: string[]; reason?: string };
  /** -L directories to pass (empty for the system QEMU). */
  dataDirs: string[];
  kvm: { usable: boolean; detail: string };
  fromCache: boolean;
  cacheFile: string;
}

export interface CapabilityOptions {
  /** Explicit binary (--qemu); else $XDPLAB_QEMU, else qemu-system-x86_64. */
  qemu?: string;
  /** Default $XDPLAB_CACHE_DIR, else ~/.cache/xdplab. */
  cacheDir?: string;
  /** Ignore the cache and ask the binary again. */
  refresh?: boolean;
  /** Probe /dev/kvm (default true). */
  kvm?: boolean;
  /** Deadline of each step that runs QEMU (default 10000 ms). */
  timeoutMs?: number;
}

export function cacheDir(explicit?: string): string {
  return explicit ?? process.env.XDPLAB_CACHE_DIR ?? join(homedir(), '.cache', 'xdplab');
}

interface CacheEntry { cacheVersion: number; key: { path: string; mtimeMs: number; size: number }; facts: QemuFacts }

function cacheFileFor(dir: string, realPath: string): string {
  return join(dir, 'qemu-capabilities', `${createHash('sha256').update(realPath).digest('hex').slice(0, 16)}.json`);
}

function readCache(file: string, key: CacheEntry['key']): QemuFacts | undefined {
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
    if (e.cacheVersion !== CAPABILITIES_CACHE_VERSION) return undefined;
    if (e.key.path !== key.path || e.key.mtimeMs !== key.mtimeMs || e.key.size !== key.size) return undefined;
    return e.facts;
  } catch {
    return undefined;
  }
}

function writeCache(file: string, key: CacheEntry['key'], facts: QemuFacts): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ cacheVersion: CAPABILITIES_CACHE_VERSION, key, facts } satisfies CacheEntry, null, 2)}\n`);
    renameSync(tmp, file);
  } catch {
    // A read-only home is no reason to fail: the next call asks the binary again.
  }
}

/** "Accelerators supported in QEMU binary:\ntcg\nkvm" -> ['tcg', 'kvm']. */
export function parseAccelHelp(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => /accelerators supported/i.test(l));
  return lines.slice(start + 1).filter((l) => /^[a-z0-9-]+$/.test(l));
}

/** The Netdev union (netdev_add's boxed argument type) of a query-qmp-schema answer. */
export function netdevUnionFromSchema(entries: QmpSchemaEntry[]): Record<string, SchemaMember[]> | undefined {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const argType = byName.get('netdev_add')?.['arg-type'];
  const union = argType ? byName.get(argType) : undefined;
  if (!union?.variants) return undefined;
  const typeName = (t: string | undefined, depth = 0): string => {
    if (!t) return 'unknown';
    const e = byName.get(t);
    if (!e || e['meta-type'] === 'builtin') return t;
    if (e['meta-type'] === 'array' && depth < 3) return `[${typeName(e['element-type'], depth + 1)}]`;
    if (e['meta-type'] === 'enum') return `enum(${(e.values ?? []).join('|')})`;
    return e['meta-type'];
  };
  const out: Record<string, SchemaMember[]> = {};
  for (const v of union.variants) {
    const t = byName.get(v.type);
    out[v.case] = (t?.members ?? []).map((m) => ({ name: m.name, type: typeName(m.type), optional: 'default' in m }));
  }
  return out;
}

/** Starts the binary with only a QMP monitor and reads query-qmp-schema; QEMU is always
 * stopped and its socket directory removed, whatever happens. */
export async function probeQmpSchema(binary: string, timeoutMs = 10_000): Promise<{ version: QmpVersion; schema: QmpSchemaEntry[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'xl-qemu-'));
  const sock = join(dir, 'qmp.sock');
  const child = spawn(binary, ['-M', 'none', '-nodefaults', '-display', 'none', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<never>((_, reject) => {
    const fail = (why: string) => reject(new LabError({ code: 'QEMU_EXITED', message: `${binary} ${why} before answering QMP${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}` }));
    child.once('error', (e: NodeJS.ErrnoException) => fail(`could not start (${e.code ?? e.message})`));
    child.once('exit', (code, signal) => fail(signal ? `was killed by ${signal}` : `exited with ${code}`));
  });
  exited.catch(() => { /* observed through the race below */ });
  let client: QmpClient | undefined;
  try {
    client = await Promise.race([QmpClient.connect(sock, { waitForSocket: true, timeoutMs, commandTimeoutMs: timeoutMs }), exited]);
    const schema = await Promise.race([client.execute('query-qmp-schema'), exited]);
    const version = client.greeting.QMP.version;
    return { version, schema };
  } finally {
    client?.destroy();
    await stopProcess(child, 2000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export function stopProcess(child: ReturnType<typeof spawn>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { child.kill('SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}

/** Asks the binary (no cache). */
export async function probeQemuFacts(binary: string, timeoutMs = 10_000): Promise<QemuFacts> {
  const v = await runTool(binary, ['--version'], timeoutMs);
  const version = parseQemuVersion(v.stdout);
  if (!v.ok || !version) {
    throw new LabError({ code: 'QEMU_BROKEN', message: `${binary} --version: ${v.problem ?? `unexpected output '${v.stdout.trim().split('\n')[0] ?? ''}'`}`, hint: 'is this a qemu-system binary? Does it run (ldd for missing libraries)?' });
  }
  const help = await runTool(binary, ['-netdev', 'help'], timeoutMs);
  const accel = await runTool(binary, ['-accel', 'help'], timeoutMs);
  const facts: QemuFacts = {
    version,
    versionText: v.stdout.trim().split('\n')[0] ?? '',
    netdevHelp: help.ok ? parseNetdevHelp(help.stdout) : [],
    accelerators: accel.ok ? parseAccelHelp(accel.stdout) : [],
  };
  try {
    const { version: qv, schema } = await probeQmpSchema(binary, timeoutMs);
    facts.package = qv.package;
    const union = netdevUnionFromSchema(schema);
    facts.qmpCommands = schema.filter((e) => e['meta-type'] === 'command').map((e) => e.name).sort();
    if (union) facts.netdevUnion = union;
    else facts.schemaProblem = 'query-qmp-schema has no netdev_add command with a Netdev union';
  } catch (err) {
    facts.schemaProblem = err instanceof Error ? err.message : String(err);
  }
  return facts;
}

/** Why this binary lacks a driver. */
export function lackReason(type: NetdevType, version: string): string {
  const d = driverOf(type);
  if (compareVersions(version, d.since) < 0) return `this QEMU lacks ${type}: it appeared in QEMU ${d.since}, and this is QEMU ${version}`;
  return `this QEMU lacks ${type}: built without ${d.requires}; point --qemu PATH or XDPLAB_QEMU at a QEMU that has it`;
}

/** Availability of each driver xdplab models, from the cached facts. */
export function driverAvailability(facts: QemuFacts): Record<NetdevType, DriverAvailability> {
  const out = {} as Record<NetdevType, DriverAvailability>;
  for (const type of NETDEV_TYPES) {
    const inHelp = facts.netdevHelp.length ? facts.netdevHelp.includes(type) : undefined;
    const inSchema = facts.netdevUnion ? type in facts.netdevUnion : undefined;
    // -netdev help lists what is compiled in; the schema also lists unconditional members that
    // were not built (netmap), so help decides when we have it.
    const available = inHelp ?? inSchema ?? false;
    const a: DriverAvailability = { type, available };
    if (!available) a.reason = lackReason(type, facts.version);
    const members = facts.netdevUnion?.[type]?.map((m) => m.name);
    if (members) {
      a.members = members;
      const modelled = objectSpec(DRIVERS[type].options).map((f) => f.name);
      const missing = modelled.filter((m) => !members.includes(m));
      const extra = members.filter((m) => !modelled.includes(m));
      if (missing.length) a.missingMembers = missing;
      if (extra.length) a.extraMembers = extra;
    }
    out[type] = a;
  }
  return out;
}

/** The capabilities of the chosen QEMU binary. Binary facts come from the cache when the
 * binary is unchanged (same real path, mtime and size). */
export async function qemuCapabilities(options: CapabilityOptions = {}): Promise<QemuCapabilities> {
  const binary = resolveQemuBinary(options.qemu);
  const st = statSync(binary.realPath);
  const key = { path: binary.realPath, mtimeMs: st.mtimeMs, size: st.size };
  const file = cacheFileFor(cacheDir(options.cacheDir), binary.realPath);
  let facts = options.refresh ? undefined : readCache(file, key);
  const fromCache = facts !== undefined;
  if (!facts) {
    facts = await probeQemuFacts(binary.realPath, options.timeoutMs);
    // A failed schema probe (a QEMU that crashed, a timeout) is not cached: try again next time.
    if (!facts.schemaProblem) writeCache(file, key, facts);
  }
  const drivers = driverAvailability(facts);
  const afxdpMembers = facts.netdevUnion?.['af-xdp']?.map((m) => m.name);
  const afXdp: QemuCapabilities['afXdp'] = afxdpMembers
    ? { present: true, members: afxdpMembers }
    : { present: false, reason: facts.netdevUnion ? drivers['af-xdp'].reason ?? lackReason('af-xdp', facts.version) : `unknown: ${facts.schemaProblem}` };
  let kvm = { usable: false, detail: 'not probed' };
  if (options.kvm !== false) {
    const p = await probeKvm();
    const accel = facts.accelerators.includes('kvm');
    kvm = {
      usable: p.ok && accel,
      detail: !accel ? `this QEMU has no kvm accelerator (it has: ${facts.accelerators.join(', ') || 'none listed'})` : p.ok ? `KVM runs guest code at hardware speed: ${p.detail}` : `KVM not usable at speed: ${p.detail}; QEMU will use TCG`,
    };
  }
  return {
    ...facts,
    binary: { ...binary, mtimeMs: st.mtimeMs, size: st.size },
    drivers, afXdp,
    dataDirs: dataDirsFor(binary),
    kvm, fromCache, cacheFile: file,
  };
}
