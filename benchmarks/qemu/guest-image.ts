// The guest image: a kernel and a small initramfs that xdplab builds from Debian packages and
// caches under <cache>/guest/<inputs-hash>/ (cache: $XDPLAB_CACHE_DIR, default ~/.cache/xdplab).
//
// Kernel: the host's own (/boot/vmlinuz-$(uname -r) with /lib/modules/$(uname -r)) when it is
// readable and has the virtio drivers; otherwise Debian's linux-image-<abi>-amd64 (the package
// `linux-image-amd64` depends on), taken from apt's or our cache or fetched with
// `apt-get download`, unpacked with `dpkg -x`, and `depmod -b`'d to get modules.dep. The
// bzImage's payload is decompressed once into a vmlinux that QEMU boots through its PVH entry
// (decompressing itself cost a TCG boot 4-5 s).
//
// Initramfs (cpio newc, uncompressed: gunzipping its 5 MiB cost a TCG boot ~0.3 s of ~3 s, and
// QEMU loads 12 MiB as fast; written by guest/cpio.ts so that it holds /dev/console without root
// and is reproducible): busybox-static (sh, ip, insmod, modprobe, init, ...), the modules
// below with their dependencies from modules.dep (BOOT_MODULES insmod'ed by /init in dependency
// order; e1000 and 9p modprobe'd by /init when the VM has such a device; pktgen and bridge on
// demand), iperf3, ethtool when the host has it, and every library ldd lists for them plus the loader.
//
// Guest agent: our own busybox sh script on a virtio-serial port (guest/agent.ts), not
// qemu-guest-agent. qemu-ga's guest-exec would need glib, libpcre2, libffi and friends in the
// initramfs (several MiB more to unpack on every TCG boot, and libraries to track per distro
// release), plus base64-polling of guest-exec-status over QMP-style JSON; the script is ~70
// lines over tools busybox already has, starts in milliseconds, runs commands concurrently with
// a per-command timeout that kills the command's whole session, and speaks a protocol the VM
// code owns end to end (vm.ts). What it gives up: no file transfer beyond stdin, and requests
// are read byte by byte by sh, so stdin is meant for small inputs (scripts, configs).
//
// The image is rebuilt only when its inputs change: a hash over the builder version, the kernel
// (package and version, or the host kernel file's release, size and mtime), the package version
// of every other file taken from the host or from a .deb (sha256 for a file no package owns),
// the module list and the text of /init, inittab and the agent. A build happens in a temp
// directory next to the cache entry and is renamed into place, so concurrent builds never leave
// a half-written entry; the loser of a rename race uses the winner's. Downloaded .debs are kept
// in <cache>/debs (one version per package); a new build keeps the two newest other images.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { LabError } from '../contracts/errors.js';
import { AGENT_SCRIPT } from './guest/agent.js';
import { cpioNewc, type CpioEntry } from './guest/cpio.js';
import { INIT_SCRIPT, INITTAB } from './guest/init.js';


/** Bump when the build itself changes in a way the other inputs do not show. */
export const GUEST_BUILDER_VERSION = 4;

/** Loaded at boot by /init, in dependency order (with what modules.dep says they need). */
export const BOOT_MODULES = ['virtio_pci', 'virtio_net', 'virtio_console'] as const;
/**
 * In the image, loaded with modprobe: e1000 and 9p by /init when the VM has such a device,
 * pktgen by whoever wants it (`modprobe pktgen` in the guest), bridge (with stp and llc, from
 * modules.dep) by the PVP forwarder (guest/forwarder.ts). On demand, not at boot: a guest that
 * does not forward pays nothing for them.
 */
export const ON_DEMAND_MODULES = ['e1000', '9pnet_virtio', '9p', 'pktgen', 'bridge'] as const;
/** Without these (as modules or built in), a kernel cannot run the lab's guest. */
export const REQUIRED_MODULES = ['virtio_pci', 'virtio_net', 'virtio_console'] as const;

export type KernelChoice = 'auto' | 'host' | 'debian';

export interface KernelInput {
  source: 'host' | 'debian';
  /** `uname -r` of the guest. */
  release: string;
  /** Debian: the linux-image package and its version. */
  package?: string;
  version?: string;
  /** Host: the kernel file, its size and modification time. */
  path?: string;
  sizeBytes?: number;
  mtimeMs?: number;
}

export interface GuestImageInputs {
  builderVersion: number;
  kernel: KernelInput;
  /** Package name -> version, for busybox-static, iperf3, ethtool and their libraries. */
  packages: Record<string, string>;
  /** Host files no package owns -> sha256. */
  files: Record<string, string>;
  modules: { boot: string[]; onDemand: string[] };
  /** sha256 of /init, /etc/inittab and the agent. */
  sourcesSha256: string;
}

export interface GuestImageManifest {
  inputsHash: string;
  inputs: GuestImageInputs;
  kernelRelease: string;
  /** vmlinux (uncompressed, PVH entry) or vmlinuz (bzImage). */
  kernelFile: string;
  kernelBoot: 'pvh' | 'bzimage';
  initrdFile: string;
  kernelBytes: number;
  initrdBytes: number;
  /** Module paths (relative to /lib/modules/<release>) /init loads, in order. */
  bootModules: string[];
  /** Module paths in the image that /init does not load. */
  onDemandModules: string[];
  /** Wanted modules the kernel has built in, and wanted ones it lacks altogether. */
  builtinModules: string[];
  missingModules: string[];
  /** Host files copied in (binaries, libraries), with their path in the guest. */
  programs: string[];
  builtAt: string;
  buildMs: number;
}

export interface GuestImage {
  dir: string;
  kernelPath: string;
  initrdPath: string;
  manifest: GuestImageManifest;
  /** True when the cache already had it. */
  cached: boolean;
}

export interface GuestImageOptions {
  /** Default: $XDPLAB_CACHE_DIR, else ~/.cache/xdplab. */
  cacheDir?: string;
  /** Build even when the cache has this image (replaces it). */
  rebuild?: boolean;
  /** Default: $XDPLAB_GUEST_KERNEL, else 'auto' (the host's when usable, else Debian's). */
  kernel?: KernelChoice;
  onProgress?: (message: string) => void;
}

export function cacheRoot(opts: { cacheDir?: string } = {}): string {
  return opts.cacheDir || process.env.XDPLAB_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'xdplab');
}

// ---- pure parts (unit-tested) ----------------------------------------------------------------

/** "kernel/drivers/net/virtio_net.ko.xz" -> "virtio_net" (dashes and underscores are one). */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** modules.dep: "path: dep dep ..." per line -> path -> deps. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    deps.set(line.slice(0, i).trim(), line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

export interface ModulePlan {
  /** Module paths, every one after all it depends on. */
  order: string[];
  builtin: string[];
  missing: string[];
}

/** The wanted modules and their dependencies, each after what it needs. */
export function resolveModules(dep: Map<string, string[]>, builtin: Iterable<string>, wanted: readonly string[]): ModulePlan {
  const byName = new Map<string, string>();
  for (const path of dep.keys()) byName.set(moduleName(path), path);
  const builtinNames = new Set([...builtin].map(moduleName));
  const order: string[] = [];
  const seen = new Set<string>();
  const visiting = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    if (visiting.has(path)) throw new LabError({ code: 'EMODULES', message: `modules.dep has a dependency cycle through ${path}` });
    visiting.add(path);
    for (const d of dep.get(path) ?? []) visit(d);
    visiting.delete(path);
    seen.add(path);
    order.push(path);
  };
  const plan: ModulePlan = { order, builtin: [], missing: [] };
  for (const name of wanted.map((n) => n.replace(/-/g, '_'))) {
    const path = byName.get(name);
    if (path) visit(path);
    else if (builtinNames.has(name)) plan.builtin.push(name);
    else plan.missing.push(name);
  }
  return plan;
}

/** Library paths from `ldd` output, the dynamic loader included, vdso excluded. */
export function parseLdd(text: string): string[] {
  const libs: string[] = [];
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m && !libs.includes(m[1]!)) libs.push(m[1]!);
  }
  return libs;
}

/** `apt-cache show --no-all-versions linux-image-amd64` -> the image package and its version. */
export function parseKernelMetaPackage(text: string): { package: string; version?: string } | undefined {
  const depends = /^Depends:\s*(.*)$/m.exec(text)?.[1] ?? '';
  for (const alt of depends.split(/[,|]/).map((s) => s.trim())) {
    const m = /^(linux-image-[^\s(]+)(?:\s*\(=\s*([^)\s]+)\))?/.exec(alt);
    if (m) return { package: m[1]!, ...(m[2] ? { version: m[2] } : {}) };
  }
  return undefined;
}

/** A stable hash of the inputs (keys sorted at every level). */
export function hashInputs(inputs: GuestImageInputs): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(inputs))).digest('hex').slice(0, 16);
}

// ---- running tools -----------------------------------------------------------------------------

interface RunResult { stdout: string; stderr: string; code: number }

function runCmd(cmd: string, args: string[], opts: { cwd?: string; allowFail?: boolean; what: string; hint?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (e?.code === 'ENOENT') {
        reject(new LabError({ code: 'ENOTOOL', message: `${opts.what}: '${cmd}' is not installed`, hint: opts.hint ?? 'run npm run setup' }));
        return;
      }
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      if (code !== 0 && !opts.allowFail) {
        reject(new LabError({ code: 'ECOMMAND', message: `${opts.what}: ${cmd} ${args.join(' ')} exited with ${code}: ${(stderr || stdout).trim().slice(-800)}`, ...(opts.hint ? { hint: opts.hint } : {}) }));
        return;
      }
      resolve({ stdout, stderr, code });
    });
  });
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    try { accessSync(p, constants.X_OK); if (statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return undefined;
}

function readable(path: string): boolean {
  try { accessSync(path, constants.R_OK); return statSync(path).isFile(); } catch { return false; }
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Owning package and version of each path (dpkg knows /bin or /usr/bin, depending on usrmerge). */
async function packagesOwning(paths: string[]): Promise<{ owned: Map<string, { pkg: string; version: string }>; unowned: string[] }> {
  const candidates = (p: string) => {
    const out = new Set([p]);
    try { out.add(realpathSync(p)); } catch { /* keep p */ }
    for (const c of [...out]) {
      out.add(c.startsWith('/usr/') ? c.slice(4) : `/usr${c}`);
    }
    return [...out];
  };
  const all = [...new Set(paths.flatMap(candidates))];
  const byPath = new Map<string, string>();
  if (which('dpkg-query')) {
    const r = await runCmd('dpkg-query', ['-S', ...all], { allowFail: true, what: 'finding the packages of the guest\'s programs' });
    for (const line of r.stdout.split('\n')) {
      const m = /^([^:,\s]+)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
      if (m) byPath.set(m[2]!, m[1]!);
    }
  }
  const pkgs = [...new Set(byPath.values())];
  const versions = new Map<string, string>();
  if (pkgs.length) {
    const r = await runCmd('dpkg-query', ['-W', '-f', '${Package}\t${Version}\n', ...pkgs], { allowFail: true, what: 'package versions' });
    for (const line of r.stdout.split('\n')) {
      const [p, v] = line.split('\t');
      if (p && v) versions.set(p, v);
    }
  }
  const owned = new Map<string, { pkg: string; version: string }>();
  const unowned: string[] = [];
  for (const p of paths) {
    const pkg = candidates(p).map((c) => byPath.get(c)).find(Boolean);
    const version = pkg ? versions.get(pkg) : undefined;
    if (pkg && version) owned.set(p, { pkg, version });
    else unowned.push(p);
  }
  return { owned, unowned };
}

// ---- what goes in ------------------------------------------------------------------------------

interface HostKernel { release: string; vmlinuz: string; modulesDir: string }

/** The running kernel, when its image is readable and it has (or builds in) the virtio drivers. */
export function hostKernel(): { ok: true; kernel: HostKernel } | { ok: false; reason: string } {
  const rel = release();
  const vmlinuz = [`/boot/vmlinuz-${rel}`, `/lib/modules/${rel}/vmlinuz`, `/usr/lib/modules/${rel}/vmlinuz`].find((p) => existsSync(p));
  if (!vmlinuz) return { ok: false, reason: `no /boot/vmlinuz-${rel} (the host kernel's image is not installed here)` };
  if (!readable(vmlinuz)) return { ok: false, reason: `${vmlinuz} is not readable by this user` };
  const modulesDir = `/lib/modules/${rel}`;
  if (!existsSync(join(modulesDir, 'modules.dep'))) return { ok: false, reason: `no ${modulesDir}/modules.dep` };
  const dep = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'));
  const builtin = existsSync(join(modulesDir, 'modules.builtin')) ? readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean) : [];
  const plan = resolveModules(dep, builtin, REQUIRED_MODULES);
  if (plan.missing.length) return { ok: false, reason: `the host kernel ${rel} lacks ${plan.missing.join(', ')}` };
  return { ok: true, kernel: { release: rel, vmlinuz, modulesDir } };
}

interface DebianKernel { package: string; version: string; release: string }

async function debianKernel(): Promise<DebianKernel> {
  const hint = 'needs apt (Debian or Ubuntu) with package lists: apt-get update; or use a host kernel (--kernel host)';
  const r = await runCmd('apt-cache', ['show', '--no-all-versions', 'linux-image-amd64'], { what: 'finding the Debian kernel package', hint });
  const meta = parseKernelMetaPackage(r.stdout);
  if (!meta) throw new LabError({ code: 'ENOKERNEL', message: 'apt-cache show linux-image-amd64 names no linux-image-* package in Depends', hint });
  let version = meta.version;
  if (!version) {
    const s = await runCmd('apt-cache', ['show', '--no-all-versions', meta.package], { what: `finding the version of ${meta.package}`, hint });
    version = /^Version:\s*(\S+)/m.exec(s.stdout)?.[1];
    if (!version) throw new LabError({ code: 'ENOKERNEL', message: `apt-cache show ${meta.package} gives no Version`, hint });
  }
  return { package: meta.package, version, release: meta.package.replace(/^linux-image-/, '') };
}

type BusyboxSource = { kind: 'installed'; path: string; version: string } | { kind: 'deb'; version: string };

async function busyboxSource(): Promise<BusyboxSource> {
  if (which('dpkg-query')) {
    const st = await runCmd('dpkg-query', ['-W', '-f', '${Status}\t${Version}', 'busybox-static'], { allowFail: true, what: 'busybox-static' });
    const [status, version] = st.stdout.split('\t');
    if (st.code === 0 && status?.endsWith(' installed') && version) {
      const files = await runCmd('dpkg-query', ['-L', 'busybox-static'], { what: 'busybox-static files' });
      const path = files.stdout.split('\n').find((l) => /\/bin\/busybox$/.test(l));
      if (path && readable(path)) return { kind: 'installed', path, version };
    }
  }
  const r = await runCmd('apt-cache', ['show', '--no-all-versions', 'busybox-static'], { allowFail: true, what: 'busybox-static' });
  const version = /^Version:\s*(\S+)/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !version) throw new LabError({ code: 'ENOTOOL', message: 'busybox-static is neither installed nor known to apt', hint: 'apt-get install busybox-static (npm run setup)' });
  return { kind: 'deb', version };
}

interface Plan {
  inputs: GuestImageInputs;
  hash: string;
  kernel: { host: HostKernel } | { debian: DebianKernel };
  busybox: BusyboxSource;
  /** Host programs and libraries to copy, by their path (the same path in the guest). */
  hostFiles: string[];
  programs: string[];
}

async function plan(opts: GuestImageOptions): Promise<Plan> {
  if (process.arch !== 'x64') throw new LabError({ code: 'EARCH', message: `the guest image is x86_64 and takes programs from the host; this host is ${process.arch}` });
  const choice = opts.kernel ?? (process.env.XDPLAB_GUEST_KERNEL as KernelChoice | undefined) ?? 'auto';
  if (!['auto', 'host', 'debian'].includes(choice)) throw new LabError({ code: 'EINVALIDOPTION', field: 'kernel', message: `kernel: expected auto, host or debian, got '${choice}'` });

  let kernelInput: KernelInput;
  let kernel: Plan['kernel'];
  const host = choice === 'debian' ? undefined : hostKernel();
  if (host?.ok) {
    const st = statSync(host.kernel.vmlinuz);
    kernelInput = { source: 'host', release: host.kernel.release, path: host.kernel.vmlinuz, sizeBytes: st.size, mtimeMs: Math.round(st.mtimeMs) };
    kernel = { host: host.kernel };
  } else {
    if (choice === 'host') throw new LabError({ code: 'ENOKERNEL', message: `the host kernel is not usable for the guest: ${host && !host.ok ? host.reason : ''}`, hint: 'use --kernel auto or debian' });
    const d = await debianKernel();
    kernelInput = { source: 'debian', release: d.release, package: d.package, version: d.version };
    kernel = { debian: d };
  }

  const busybox = await busyboxSource();
  const iperf3 = which('iperf3');
  if (!iperf3) throw new LabError({ code: 'ENOTOOL', message: 'iperf3 is not installed (the guest image takes it from the host)', hint: 'apt-get install iperf3 (npm run setup)' });
  const programs = [iperf3, which('ethtool')].filter((p): p is string => !!p);
  const hostFiles = [...programs];
  for (const p of programs) {
    const r = await runCmd('ldd', [p], { allowFail: true, what: `libraries of ${p}` });
    for (const lib of parseLdd(r.stdout)) if (!hostFiles.includes(lib)) hostFiles.push(lib);
  }
  const { owned, unowned } = await packagesOwning(hostFiles);
  const packages: Record<string, string> = { 'busybox-static': busybox.version };
  for (const { pkg, version } of owned.values()) packages[pkg] = version;
  const files: Record<string, string> = {};
  for (const p of unowned) files[p] = sha256(readFileSync(p));

  const inputs: GuestImageInputs = {
    builderVersion: GUEST_BUILDER_VERSION,
    kernel: kernelInput,
    packages,
    files,
    modules: { boot: [...BOOT_MODULES], onDemand: [...ON_DEMAND_MODULES] },
    sourcesSha256: sha256([INIT_SCRIPT, INITTAB, AGENT_SCRIPT].join('\0')),
  };
  return { inputs, hash: hashInputs(inputs), kernel, busybox, hostFiles, programs };
}

// ---- cache -------------------------------------------------------------------------------------

function readManifest(dir: string): GuestImageManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as GuestImageManifest;
    if (!existsSync(join(dir, m.kernelFile)) || !existsSync(join(dir, m.initrdFile))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

function imageAt(dir: string, manifest: GuestImageManifest, cached: boolean): GuestImage {
  return { dir, kernelPath: join(dir, manifest.kernelFile), initrdPath: join(dir, manifest.initrdFile), manifest, cached };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Temp directories of builds whose process is gone. */
function sweepDeadBuilds(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^\.(?:tmp|old|dl)-.*-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

const tempName = (kind: string, tag: string) => `.${kind}-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** A .deb, from our cache, apt's archive cache, or `apt-get download` (verified by apt). */
async function fetchDeb(cache: string, pkg: string, version: string, progress: (m: string) => void): Promise<string> {
  const file = `${pkg}_${version.replace(/:/g, '%3a')}_amd64.deb`;
  const debs = join(cache, 'debs');
  mkdirSync(debs, { recursive: true });
  sweepDeadBuilds(debs);
  for (const p of [join(debs, file), join('/var/cache/apt/archives', file)]) {
    if (readable(p)) { progress(`using ${p}`); return p; }
  }
  progress(`downloading ${pkg} ${version} (apt-get download)`);
  const dl = join(debs, tempName('dl', pkg));
  mkdirSync(dl, { mode: 0o777 });
  try {
    await runCmd('apt-get', ['download', '-q', `${pkg}=${version}`], { cwd: dl, what: `downloading ${pkg}`, hint: 'check apt sources and network (apt-get update)' });
    const got = readdirSync(dl).find((f) => f.endsWith('.deb'));
    if (!got) throw new LabError({ code: 'EDOWNLOAD', message: `apt-get download ${pkg}=${version} wrote no .deb` });
    renameSync(join(dl, got), join(debs, file));
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
  // Older versions of the same package are of no further use.
  for (const f of readdirSync(debs)) if (f !== file && f.startsWith(`${pkg}_`)) rmSync(join(debs, f), { force: true });
  return join(debs, file);
}

// ---- build -------------------------------------------------------------------------------------

class Tree {
  private readonly entries = new Map<string, CpioEntry>();

  private parents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!this.entries.has(d)) this.entries.set(d, { type: 'dir', path: d });
    }
  }

  dir(path: string, mode = 0o755): void { const p = path.replace(/^\/+/, ''); this.parents(p); this.entries.set(p, { type: 'dir', path: p, mode }); }
  file(path: string, data: Buffer | string, mode = 0o644): void {
    const p = path.replace(/^\/+/, '');
    this.parents(p);
    this.entries.set(p, { type: 'file', path: p, data: Buffer.isBuffer(data) ? data : Buffer.from(data), mode });
  }
  symlink(path: string, target: string): void { const p = path.replace(/^\/+/, ''); if (this.entries.has(p)) return; this.parents(p); this.entries.set(p, { type: 'symlink', path: p, target }); }
  char(path: string, major: number, minor: number, mode = 0o600): void { const p = path.replace(/^\/+/, ''); this.parents(p); this.entries.set(p, { type: 'char', path: p, major, minor, mode }); }
  has(path: string): boolean { return this.entries.has(path.replace(/^\/+/, '')); }
  /** Parents before children (sorted paths do that), so the kernel can create each in turn. */
  list(): CpioEntry[] { return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)); }
}

async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith('.ko')) return readFileSync(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : 'zstd';
  const r = await new Promise<Buffer>((resolve, reject) => {
    execFile(tool, ['-dc', path], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(new LabError({ code: 'ECOMMAND', message: `decompressing ${path} with ${tool}: ${err.message}`, hint: `install ${tool === 'xz' ? 'xz-utils' : 'zstd'}` }));
      else resolve(stdout);
    });
  });
  return r;
}

const stripSuffix = (p: string) => p.replace(/\.(xz|zst|gz)$/, '');

// ---- the kernel, decompressed ------------------------------------------------------------------
// A bzImage decompresses itself: under TCG that alone took 4-5 s of an xz-compressed Debian
// kernel's boot. QEMU also boots an uncompressed vmlinux ELF directly through its PVH entry
// point (a Xen PHYS32_ENTRY note, CONFIG_PVH), so the build unpacks the payload once.

const PAYLOAD_FORMATS: Array<{ magic: number[]; format: string; tool?: string[] }> = [
  { magic: [0x1f, 0x8b], format: 'gzip' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], format: 'xz', tool: ['xz', '-dc', '--single-stream'] },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], format: 'zstd', tool: ['zstd', '-dcq'] },
  { magic: [0x02, 0x21, 0x4c, 0x18], format: 'lz4', tool: ['lz4', '-dcq'] },
  { magic: [0x42, 0x5a, 0x68], format: 'bzip2', tool: ['bzip2', '-dcq'] },
  { magic: [0x5d, 0x00], format: 'lzma', tool: ['xz', '-dc', '--format=lzma', '--single-stream'] },
  { magic: [0x7f, 0x45, 0x4c, 0x46], format: 'none' },
];

/** The compressed kernel inside a bzImage (boot protocol >= 2.08) and its format. */
export function bzImagePayload(img: Buffer): { format: string; data: Buffer } | undefined {
  if (img.length < 0x250 || img.toString('latin1', 0x202, 0x206) !== 'HdrS' || img.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSects = img[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + img.readUInt32LE(0x248);
  const data = img.subarray(start, start + img.readUInt32LE(0x24c));
  const f = PAYLOAD_FORMATS.find((x) => x.magic.every((b, i) => data[i] === b));
  return { format: f?.format ?? 'unknown', data };
}

/** Whether an ELF64 file is whole and has the PVH entry note (Xen note type 18). */
export function elfHasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  let pvh = false;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length) return false;
    const type = elf.readUInt32LE(ph);
    const off = Number(elf.readBigUInt64LE(ph + 8));
    const size = Number(elf.readBigUInt64LE(ph + 32));
    if (off + size > elf.length) return false; // truncated
    if (type !== 4) continue; // PT_NOTE
    for (let n = off; n + 12 <= off + size;) {
      const namesz = elf.readUInt32LE(n);
      const descsz = elf.readUInt32LE(n + 4);
      const ntype = elf.readUInt32LE(n + 8);
      const name = elf.toString('latin1', n + 12, n + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && ntype === 18) pvh = true;
      n += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return pvh;
}

function decompress(tool: string[], data: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const child = execFile(tool[0]!, tool.slice(1), { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 }, (err, stdout) => {
      // Trailing bytes after the stream (the kernel appends the size) may make the tool complain:
      // the ELF check below decides whether the output is whole.
      resolve(err && (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : stdout);
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(data);
  });
}

/** The kernel as QEMU should load it: vmlinux for PVH when possible, else the bzImage. */
async function bootableKernel(vmlinuz: string, progress: (m: string) => void): Promise<{ data: Buffer; file: string; boot: 'pvh' | 'bzimage' }> {
  const img = readFileSync(vmlinuz);
  const payload = bzImagePayload(img);
  const bz = { data: img, file: 'vmlinuz', boot: 'bzimage' as const };
  if (!payload) { progress(`${vmlinuz} is not a bzImage this builder understands; QEMU will boot it as is`); return bz; }
  const f = PAYLOAD_FORMATS.find((x) => x.format === payload.format);
  let elf: Buffer | undefined;
  if (payload.format === 'gzip') { try { elf = gunzipSync(payload.data); } catch { elf = undefined; } }
  else if (payload.format === 'none') elf = payload.data;
  else if (f?.tool) elf = await decompress(f.tool, payload.data);
  if (!elf) { progress(`cannot decompress the ${payload.format} kernel payload${f?.tool ? ` (is ${f.tool[0]} installed?)` : ''}; QEMU will boot the bzImage (slower under TCG)`); return bz; }
  if (!elfHasPvhEntry(elf)) { progress('the kernel has no PVH entry point (CONFIG_PVH); QEMU will boot the bzImage (slower under TCG)'); return bz; }
  progress(`kernel: ${payload.format} payload unpacked to a ${(elf.length / 2 ** 20).toFixed(0)} MiB vmlinux, booted through its PVH entry`);
  return { data: elf, file: 'vmlinux', boot: 'pvh' };
}

async function build(p: Plan, cache: string, tmp: string, progress: (m: string) => void): Promise<GuestImageManifest> {
  const started = Date.now();
  const out = join(tmp, 'out');
  const work = join(tmp, 'work');
  mkdirSync(out, { recursive: true });
  mkdirSync(work, { recursive: true });
  const tree = new Tree();

  // Kernel and its modules.
  let rel: string;
  let modulesDir: string;
  let vmlinuz: string;
  if ('host' in p.kernel) {
    ({ release: rel, modulesDir, vmlinuz } = p.kernel.host);
    progress(`kernel: the host's ${rel} (${vmlinuz})`);
  } else {
    const d = p.kernel.debian;
    rel = d.release;
    progress(`kernel: ${d.package} ${d.version} (Debian package)`);
    const deb = await fetchDeb(cache, d.package, d.version, progress);
    const root = join(work, 'kernel');
    progress(`unpacking ${basename(deb)} (dpkg -x)`);
    await runCmd('dpkg', ['-x', deb, root], { what: `unpacking ${deb}`, hint: 'dpkg (Debian) is needed to unpack the kernel package' });
    vmlinuz = join(root, 'boot', `vmlinuz-${rel}`);
    if (!existsSync(vmlinuz)) throw new LabError({ code: 'ENOKERNEL', message: `${d.package} has no boot/vmlinuz-${rel}` });
    progress(`depmod -b ${root} ${rel}`);
    await runCmd('depmod', ['-b', root, rel], { what: 'resolving module dependencies', hint: 'apt-get install kmod' });
    modulesDir = join(root, 'lib', 'modules', rel);
  }
  const kernel = await bootableKernel(vmlinuz, progress);
  writeFileSync(join(out, kernel.file), kernel.data);
  const dep = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'));
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean) : [];
  const boot = resolveModules(dep, builtin, BOOT_MODULES);
  const req = resolveModules(dep, builtin, REQUIRED_MODULES);
  if (req.missing.length) throw new LabError({ code: 'ENOKERNEL', message: `kernel ${rel} lacks ${req.missing.join(', ')} (neither a module nor built in)` });
  const onDemand = resolveModules(dep, builtin, ON_DEMAND_MODULES);
  const onDemandOnly = onDemand.order.filter((m) => !boot.order.includes(m));
  const all = [...boot.order, ...onDemandOnly];
  const guestModDir = `lib/modules/${rel}`;
  for (const m of all) tree.file(`${guestModDir}/${stripSuffix(m)}`, await readModule(join(modulesDir, m)));
  // modules.dep for the subset, so that busybox modprobe works in the guest (modprobe pktgen).
  tree.file(`${guestModDir}/modules.dep`, all.map((m) => `${stripSuffix(m)}: ${(dep.get(m) ?? []).map(stripSuffix).join(' ')}`.trimEnd()).join('\n') + '\n');
  tree.file('etc/xdplab/modules', boot.order.map(stripSuffix).join('\n') + '\n');
  progress(`modules: ${boot.order.map(moduleName).join(' ')}; on demand: ${onDemandOnly.map(moduleName).join(' ') || 'none'}${boot.builtin.length ? `; built in: ${boot.builtin.join(' ')}` : ''}${[...boot.missing, ...onDemand.missing].length ? `; missing: ${[...boot.missing, ...onDemand.missing].join(' ')}` : ''}`);

  // busybox and its applets.
  let busybox: string;
  if (p.busybox.kind === 'installed') busybox = p.busybox.path;
  else {
    const deb = await fetchDeb(cache, 'busybox-static', p.busybox.version, progress);
    const root = join(work, 'busybox');
    await runCmd('dpkg', ['-x', deb, root], { what: `unpacking ${deb}` });
    busybox = ['bin/busybox', 'usr/bin/busybox'].map((x) => join(root, x)).find(readable) ?? '';
    if (!busybox) throw new LabError({ code: 'ENOTOOL', message: `${deb} has no busybox binary` });
  }
  tree.file('bin/busybox', readFileSync(busybox), 0o755);
  const applets = (await runCmd(busybox, ['--list-full'], { what: 'listing busybox applets' })).stdout.split('\n').filter((l) => l.includes('/'));
  for (const a of applets) if (a !== 'bin/busybox') tree.symlink(a, '/bin/busybox');

  // Host programs and their libraries, at the paths ldd named (the loader looks there).
  for (const f of p.hostFiles) tree.file(f, readFileSync(f), 0o755);

  // The rest of the file system.
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'root', 'mnt', 'var', 'etc']) tree.dir(d);
  tree.dir('tmp', 0o1777);
  tree.char('dev/console', 5, 1);
  tree.char('dev/null', 1, 3, 0o666);
  tree.file('init', INIT_SCRIPT, 0o755);
  tree.file('etc/inittab', INITTAB);
  tree.file('sbin/xdplab-agent', AGENT_SCRIPT, 0o755);
  tree.file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  tree.file('etc/group', 'root:x:0:\n');
  tree.file('etc/hosts', '127.0.0.1 localhost\n::1 localhost\n');
  tree.file('etc/xdplab/image.json', JSON.stringify({ inputsHash: p.hash, inputs: p.inputs }, null, 1) + '\n');

  const cpio = cpioNewc(tree.list());
  writeFileSync(join(out, 'initramfs.cpio'), cpio);
  progress(`initramfs: ${tree.list().length} entries, ${(cpio.length / 2 ** 20).toFixed(1)} MiB`);

  const manifest: GuestImageManifest = {
    inputsHash: p.hash,
    inputs: p.inputs,
    kernelRelease: rel,
    kernelFile: kernel.file,
    kernelBoot: kernel.boot,
    initrdFile: 'initramfs.cpio',
    kernelBytes: kernel.data.length,
    initrdBytes: cpio.length,
    bootModules: boot.order.map(stripSuffix),
    onDemandModules: onDemandOnly.map(stripSuffix),
    builtinModules: [...boot.builtin, ...onDemand.builtin],
    missingModules: [...boot.missing, ...onDemand.missing],
    programs: p.programs,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - started,
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

/** The image for the current inputs: from the cache, or built (and cached) now. */
export async function ensureGuestImage(opts: GuestImageOptions = {}): Promise<GuestImage> {
  const progress = opts.onProgress ?? (() => {});
  const cache = cacheRoot(opts);
  const guestDir = join(cache, 'guest');
  const p = await plan(opts);
  const final = join(guestDir, p.hash);
  if (!opts.rebuild) {
    const m = readManifest(final);
    if (m) return imageAt(final, m, true);
  }
  mkdirSync(guestDir, { recursive: true });
  sweepDeadBuilds(guestDir);
  const tmp = join(guestDir, tempName('tmp', p.hash));
  mkdirSync(tmp);
  progress(`building guest image ${p.hash} in ${guestDir}`);
  let old: string | undefined;
  try {
    const manifest = await build(p, cache, tmp, progress);
    if (opts.rebuild && existsSync(final)) {
      old = join(guestDir, tempName('old', p.hash));
      try { renameSync(final, old); } catch { old = undefined; }
    }
    try {
      renameSync(join(tmp, 'out'), final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another build of the same inputs finished first: theirs is as good as ours.
      const theirs = (code === 'ENOTEMPTY' || code === 'EEXIST') ? readManifest(final) : undefined;
      if (theirs) { progress('another build of the same inputs finished first; using it'); return imageAt(final, theirs, true); }
      throw err;
    }
    progress(`guest image ready in ${(manifest.buildMs / 1000).toFixed(1)} s: ${final}`);
    pruneImages(guestDir, p.hash, progress);
    return imageAt(final, manifest, false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (old) rmSync(old, { recursive: true, force: true });
  }
}

/** Images kept besides the current one (other branches, other kernels): the newest built. */
export const KEEP_OTHER_IMAGES = 2;

/** Removes all but the newest KEEP_OTHER_IMAGES other images (each is ~70 MiB). */
function pruneImages(guestDir: string, current: string, progress: (m: string) => void): void {
  const others = listCachedGuestImages({ cacheDir: dirname(guestDir) }).filter((i) => basename(i.dir) !== current);
  for (const old of others.slice(KEEP_OTHER_IMAGES)) {
    progress(`removing an older guest image: ${old.dir}`);
    rmSync(old.dir, { recursive: true, force: true });
  }
}

/** Every image in the cache (any inputs), newest first. */
export function listCachedGuestImages(opts: { cacheDir?: string } = {}): GuestImage[] {
  const guestDir = join(cacheRoot(opts), 'guest');
  if (!existsSync(guestDir)) return [];
  return readdirSync(guestDir)
    .filter((n) => !n.startsWith('.'))
    .map((n) => { const m = readManifest(join(guestDir, n)); return m ? imageAt(join(guestDir, n), m, true) : undefined; })
    .filter((x): x is GuestImage => !!x)
    .sort((a, b) => b.manifest.builtAt.localeCompare(a.manifest.builtAt));
}

