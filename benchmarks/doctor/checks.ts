// One function per doctor check. Each finds something out for real (a socket, an ioctl, a tool's
// own output) and says what it found and, when not ok, the exact command that fixes it.
// Pure parsers are exported separately so the unit tests can feed them captured samples.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { release } from 'node:os';
import { describeError } from '../contracts/errors.js';
import { AfXdpTuningSchema, getMemlockLimit, probeAfXdpSocket, probeLibxdp, kvmBackend, probeKvm, type KvmProbe } from '../../native/index.js';
import { findLeftovers } from '../lab/state.js';
import { runTool, which } from '../lab/exec.js';
import { linkedLibrary, linkedLibraryText } from '../lab/linked-library.js';

/** Required checks decide the exit code; informational ones only inform. */
export type Severity = 'required' | 'info';
export interface CheckOutcome { ok: boolean; detail: string }
export interface CheckContext { qemu?: string }
export interface Check { id: string; severity: Severity; run: (ctx: CheckContext) => CheckOutcome | Promise<CheckOutcome> }

const SETUP = 'run `npm run setup`';
const LIB_DIR = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

// ---- pure parts ------------------------------------------------------------------------------

/** The numeric part of a version ("1:10.0.2+ds-2" -> [10, 0, 2]), ignoring a Debian epoch. */
export function parseVersion(text: string): number[] | undefined {
  const m = /^(?:\d+:)?(\d+(?:\.\d+)*)/.exec(text.trim());
  return m ? m[1]!.split('.').map(Number) : undefined;
}

/** <0, 0, >0 like a comparator; missing components count as 0; unparsable sorts first. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a) ?? [];
  const y = parseVersion(b) ?? [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const CAPS = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_SYS_ADMIN: 21, CAP_BPF: 39 } as const;
export type CapName = keyof typeof CAPS;

/** CapEff from /proc/<pid>/status as a bit mask. */
export function parseCapEff(status: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export function hasCap(mask: bigint, cap: CapName): boolean {
  return ((mask >> BigInt(CAPS[cap])) & 1n) === 1n;
}

/** What xdplab needs: NET_ADMIN (links, XDP attach), NET_RAW (AF_XDP sockets), BPF or SYS_ADMIN
 * (loading programs), IPC_LOCK (UMEM above RLIMIT_MEMLOCK). Returns the missing ones. */
export function missingCapabilities(mask: bigint): string[] {
  const missing: string[] = (['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK'] as const).filter((c) => !hasCap(mask, c));
  if (!hasCap(mask, 'CAP_BPF') && !hasCap(mask, 'CAP_SYS_ADMIN')) missing.push('CAP_BPF (or CAP_SYS_ADMIN)');
  return missing;
}

/** Backends listed by `qemu-system-* -netdev help`. */
export function parseNetdevHelp(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => /netdev backend types:?$/i.test(l));
  return lines.slice(start + 1).filter((l) => /^[a-z0-9-]+$/.test(l));
}

/** "QEMU emulator version 10.0.2 (Debian ...)" -> "10.0.2". */
export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

/** Whether /proc/self/mounts has a bpf filesystem at `at`. */
export function bpffsMounted(mounts: string, at = '/sys/fs/bpf'): boolean {
  return mounts.split('\n').some((l) => { const f = l.split(' '); return f[1] === at && f[2] === 'bpf'; });
}

function mib(bytes: bigint | number): string {
  const n = Number(bytes) / 2 ** 20;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} MiB`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function readCapEff(): bigint | undefined {
  try { return parseCapEff(readFileSync('/proc/self/status', 'utf8')); } catch { return undefined; }
}

async function dpkgVersion(pkg: string): Promise<string | undefined> {
  const r = await runTool('dpkg-query', ['-W', '-f=${Version}', pkg]);
  return r.ok && r.stdout.trim() ? r.stdout.trim() : undefined;
}

// ---- the checks ------------------------------------------------------------------------------

export function checkAfXdp(): CheckOutcome {
  const kernel = `kernel ${/^\d+\.\d+(\.\d+)?/.exec(release())?.[0] ?? release()}`;
  const e = probeAfXdpSocket();
  if (e === undefined) return { ok: true, detail: `AF_XDP sockets can be created (${kernel})` };
  if (e === 'EAFNOSUPPORT') return { ok: false, detail: `socket(AF_XDP) fails with EAFNOSUPPORT: this ${kernel} has no AF_XDP; use a kernel built with CONFIG_XDP_SOCKETS=y` };
  if (e === 'EPERM' || e === 'EACCES') return { ok: false, detail: `socket(AF_XDP) fails with ${e}: it needs CAP_NET_RAW; run xdplab as root (sudo)` };
  return { ok: false, detail: `socket(AF_XDP) fails with ${e} (${kernel})` };
}

export function checkCapabilities(): CheckOutcome {
  const mask = readCapEff();
  if (mask === undefined) return { ok: false, detail: 'cannot read CapEff from /proc/self/status; is /proc mounted?' };
  const hex = mask.toString(16).padStart(16, '0');
  const missing = missingCapabilities(mask);
  if (missing.length === 0) return { ok: true, detail: `CapEff ${hex} has CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK and ${hasCap(mask, 'CAP_BPF') ? 'CAP_BPF' : 'CAP_SYS_ADMIN'}` };
  // Without CAP_IPC_LOCK a large enough RLIMIT_MEMLOCK still works: the memlock check judges that.
  if (missing.length === 1 && missing[0] === 'CAP_IPC_LOCK') return { ok: true, detail: `CapEff ${hex} lacks only CAP_IPC_LOCK: UMEM then counts against RLIMIT_MEMLOCK (see memlock)` };
  return { ok: false, detail: `CapEff ${hex} lacks ${missing.join(', ')}; run xdplab as root (sudo), or grant them: setcap cap_net_admin,cap_net_raw,cap_ipc_lock,cap_bpf+ep "$(readlink -f "$(command -v node)")"` };
}

export function checkMemlock(): CheckOutcome {
  const d = AfXdpTuningSchema.parse({});
  const perQueue = BigInt(d.frameCount * d.frameSize);
  const need = `one default port needs ${d.frameCount} frames x ${d.frameSize} B = ${mib(perQueue)} per queue`;
  const { soft, hard } = getMemlockLimit();
  const show = (v: bigint | 'unlimited') => (v === 'unlimited' ? 'unlimited' : mib(v));
  const found = `RLIMIT_MEMLOCK soft ${show(soft)}, hard ${show(hard)}`;
  const mask = readCapEff();
  if (soft === 'unlimited') return { ok: true, detail: `${found}; ${need}` };
  // The kernel does not charge UMEM pages against the limit for a CAP_IPC_LOCK holder.
  if (mask !== undefined && hasCap(mask, 'CAP_IPC_LOCK')) return { ok: true, detail: `${found}, but CAP_IPC_LOCK lifts it; ${need}` };
  if (soft >= perQueue) return { ok: true, detail: `${found}: enough for ${Number(soft / perQueue)} queue(s); ${need}` };
  // Anyone may raise the soft limit up to the hard one; beyond that needs CAP_SYS_RESOURCE.
  const fix = hard === 'unlimited' || hard >= perQueue
    ? `raise the soft limit in the shell that starts xdplab: \`ulimit -l ${hard === 'unlimited' ? 'unlimited' : String(hard / 1024n)}\``
    : 'raise the hard limit as root: `sudo prlimit --pid $$ --memlock=unlimited` (this shell) or a `memlock` line in /etc/security/limits.conf; or run xdplab as root';
  return { ok: false, detail: `${found}, no CAP_IPC_LOCK; ${need}: ${fix}` };
}

export function checkBpffs(): CheckOutcome {
  let mounts = '';
  try { mounts = readFileSync('/proc/self/mounts', 'utf8'); } catch { /* judged as not mounted */ }
  if (bpffsMounted(mounts)) return { ok: true, detail: 'bpffs is mounted at /sys/fs/bpf: libxdp can pin its dispatcher' };
  return { ok: false, detail: 'no bpf filesystem at /sys/fs/bpf: libxdp loads a single XDP program without its dispatcher (no sharing an interface with other XDP programs); fix: `mount -t bpf bpf /sys/fs/bpf`' };
}

export async function checkLibxdp(): Promise<CheckOutcome> {
  const version = await dpkgVersion('libxdp1');
  const loaded = probeLibxdp();
  if (!loaded.ok) return { ok: false, detail: `libxdp.so.1 or libbpf.so.1 does not load (${loaded.error}); ${SETUP} (packages libxdp1, libbpf1)` };
  const withFd = loaded.hasCreateWithFd;
  // This is the libxdp xdplab's own datapath loads; a QEMU may link another (qemu-libxdp).
  const what = `xdplab's datapath loads ${version ? `libxdp ${version} (package libxdp1)` : 'libxdp.so.1 (version unknown: not a dpkg package)'}`;
  const dirs = [process.env.LIBXDP_OBJECT_PATH, `${LIB_DIR}/bpf`].filter((d): d is string => !!d);
  const objDir = dirs.find((d) => existsSync(`${d}/xsk_def_xdp_prog_5.3.o`));
  if (!objDir) return { ok: false, detail: `${what} loads, but xsk_def_xdp_prog_5.3.o (the AF_XDP redirect program) is not in ${dirs.join(' or ')}; ${SETUP}, or set LIBXDP_OBJECT_PATH to libxdp's BPF object directory` };
  const qemu = withFd
    ? 'has xsk_umem__create_with_fd, as QEMU\'s af-xdp netdev needs'
    : 'lacks xsk_umem__create_with_fd (added in 1.4): enough for xdplab\'s datapath, not for a QEMU af-xdp netdev linked against it (the QEMU\'s own libxdp: qemu-libxdp)';
  return { ok: true, detail: `${what}, xsk_def_xdp_prog_5.3.o in ${objDir}; it ${qemu}` };
}

/** The QEMU binary: --qemu, then XDPLAB_QEMU, then qemu-system-x86_64 in PATH. */
export function qemuBinary(ctx: CheckContext): { path?: string; asked: string } {
  const asked = ctx.qemu ?? process.env.XDPLAB_QEMU ?? 'qemu-system-x86_64';
  const path = which(asked);
  return path ? { path, asked } : { asked };
}

const MIN_QEMU = '8.2';

export async function checkQemu(ctx: CheckContext): Promise<CheckOutcome> {
  const q = qemuBinary(ctx);
  if (!q.path) return { ok: false, detail: `${q.asked} not found or not executable; ${SETUP} (QEMU >= ${MIN_QEMU} from bookworm-backports), or point --qemu PATH or XDPLAB_QEMU at one` };
  const r = await runTool(q.path, ['--version']);
  const version = parseQemuVersion(r.stdout);
  if (!r.ok || !version) return { ok: false, detail: `${q.path} --version: ${r.problem ?? `unexpected output '${firstLine(r.stdout)}'`}` };
  if (compareVersions(version, MIN_QEMU) < 0) return { ok: false, detail: `QEMU ${version} at ${q.path}; need >= ${MIN_QEMU} (first release with the af-xdp netdev): ${SETUP}` };
  return { ok: true, detail: `QEMU ${version} at ${q.path}` };
}

export async function checkQemuAfXdp(ctx: CheckContext): Promise<CheckOutcome> {
  const q = qemuBinary(ctx);
  if (!q.path) return { ok: false, detail: `no QEMU to ask (see the qemu check)` };
  const r = await runTool(q.path, ['-netdev', 'help']);
  if (!r.ok) return { ok: false, detail: `${q.path} -netdev help: ${r.problem}` };
  const netdevs = parseNetdevHelp(r.stdout);
  if (netdevs.includes('af-xdp')) return { ok: true, detail: `${q.path} has the af-xdp netdev (netdevs: ${netdevs.join(' ')})` };
  return { ok: false, detail: `${q.path} lacks the af-xdp netdev (not built with it, which needs libxdp >= 1.4; it has: ${netdevs.join(' ')}); use a QEMU built with --enable-af-xdp against libxdp >= 1.4 via --qemu PATH or XDPLAB_QEMU` };
}

/** The libxdp the selected QEMU links (its af-xdp netdev's), which need not be the system's. */
export async function checkQemuLibxdp(ctx: CheckContext): Promise<CheckOutcome> {
  const q = qemuBinary(ctx);
  if (!q.path) return { ok: false, detail: 'no QEMU to ask (see the qemu check)' };
  const l = linkedLibrary(q.path);
  const system = await dpkgVersion('libxdp1');
  const besides = system ? `; xdplab's datapath uses the system's libxdp ${system} (the libxdp line)` : '';
  if (!l.linked) return { ok: false, detail: `${l.reason}, so it has no af-xdp netdev${besides}` };
  const old = l.version !== undefined && compareVersions(l.version, '1.4') < 0;
  let systemFile: string | undefined;
  try { systemFile = realpathSync(`${LIB_DIR}/libxdp.so.1`); } catch { /* no system libxdp */ }
  const own = systemFile && l.realPath !== systemFile ? ', not the system\'s' : '';
  return {
    ok: !old,
    detail: `${q.path} links ${linkedLibraryText(l)}${own}${old ? ': af-xdp needs libxdp >= 1.4 (xsk_umem__create_with_fd)' : ''}${besides}`,
  };
}

/** What the KVM probe found, as one account: the device, the module behind it, the CPU's flags. */
export function kvmDetail(p: KvmProbe, backend: { module: string | undefined; hardwareVirt: boolean }): CheckOutcome {
  if (p.ok) return { ok: true, detail: `/dev/kvm runs guest code at hardware speed (${p.detail}); QEMU can use -accel kvm` };
  const { module, hardwareVirt } = backend;
  const cpu = hardwareVirt ? '' : 'the CPU shows no vmx/svm flag';
  const pvm = 'kvm-pvm (pagetable-based virtualization), which runs only PVM-enabled guest kernels at speed';
  let what: string;
  if (p.stage === 'open' && p.absent) {
    // No device: say what there is instead (a module without its device, or nothing at all).
    const mod = module === 'kvm_pvm' ? 'the kvm_pvm module (pagetable-based virtualization) is loaded but provides no device here; even with one it would run only PVM-enabled guest kernels at speed'
      : module ? `the ${module} module is loaded but there is no /dev/kvm`
        : 'no KVM module is loaded';
    const why = cpu ? `${cpu} (hardware virtualization disabled, or not exposed to this VM)` : 'the CPU has vmx/svm: load kvm_intel or kvm_amd';
    what = `no /dev/kvm: ${mod}; ${why}`;
  } else {
    const found = p.stage === 'done'
      ? `KVM_CREATE_VM works, but guest code runs emulated: ${p.detail} (${(p.nsPerIteration! / 1000).toFixed(1)} µs per iteration; hardware virtualization: about 1 ns)`
      : p.stage === 'open' ? p.detail : `/dev/kvm opens, but ${p.detail}`;
    const behind = module === 'kvm_pvm' ? `/dev/kvm is ${pvm}` : '';
    what = [found, behind, cpu].filter(Boolean).join('; ');
  }
  return { ok: false, detail: `${what}; QEMU runs under TCG (-accel tcg); for KVM, use a host that exposes VT-x/AMD-V (nested virtualization on)` };
}

export async function checkKvm(): Promise<CheckOutcome> {
  return kvmDetail(await probeKvm(), kvmBackend());
}

export async function checkIperf3(): Promise<CheckOutcome> {
  const r = await runTool('iperf3', ['--version']);
  if (!r.ok) return { ok: false, detail: `iperf3 --version: ${r.problem}; ${SETUP}` };
  return { ok: true, detail: `${firstLine(r.stdout)} at ${which('iperf3') ?? 'iperf3'}` };
}

export async function checkTestpmd(): Promise<CheckOutcome> {
  const path = which('dpdk-testpmd');
  const version = await dpkgVersion('dpdk');
  let pmd: string | undefined;
  try {
    const base = `${LIB_DIR}/dpdk`;
    for (const d of readdirSync(base).filter((d) => d.startsWith('pmds-'))) {
      if (existsSync(`${base}/${d}/librte_net_af_xdp.so`)) pmd = `${base}/${d}/librte_net_af_xdp.so`;
    }
  } catch { /* no dpdk directory */ }
  const found = `dpdk-testpmd ${path ? `at ${path}` : 'not found'}${version ? ` (dpdk ${version})` : ''}, AF_XDP PMD ${pmd ?? 'not found'}`;
  if (!path || !pmd) return { ok: false, detail: `${found}; ${SETUP} (packages dpdk, librte-net-af-xdp23)` };
  return { ok: true, detail: found };
}

export async function checkChromium(): Promise<CheckOutcome> {
  const bin = '/usr/bin/chromium';
  // Its launcher script prints shell noise on stderr here; only stdout matters.
  const r = await runTool(bin, ['--version']);
  if (!r.ok) return { ok: false, detail: `${bin} --version: ${r.problem}; end-to-end UI tests are skipped; ${SETUP} (package chromium)` };
  return { ok: true, detail: `${firstLine(r.stdout)} at ${bin}` };
}

export function checkLeftovers(): CheckOutcome {
  const { labs, strayNamespaces } = findLeftovers();
  if (labs.length === 0 && strayNamespaces.length === 0) return { ok: true, detail: 'no leftovers from crashed labs' };
  const parts = [
    ...labs.map((l) => `lab ${l.id} (dead pid ${l.pid}, ${l.resources.length} resource(s): ${l.resources.map((r) => ('name' in r ? r.name : 'ifname' in r ? `xdp on ${r.ifname}` : 'pid' in r ? `pid ${r.pid}` : r.path)).join(', ') || 'none'})`),
    ...strayNamespaces.map((n) => `stray namespace ${n}`),
  ];
  return { ok: false, detail: `leftovers from crashed labs: ${parts.join('; ')}; run \`xdplab doctor --cleanup\`` };
}

/** Every check, in output order. */
export const CHECKS: Check[] = [
  { id: 'af-xdp', severity: 'required', run: checkAfXdp },
  { id: 'capabilities', severity: 'required', run: checkCapabilities },
  { id: 'memlock', severity: 'required', run: checkMemlock },
  { id: 'bpffs', severity: 'info', run: checkBpffs },
  { id: 'libxdp', severity: 'required', run: checkLibxdp },
  { id: 'qemu', severity: 'required', run: checkQemu },
  { id: 'qemu-af-xdp', severity: 'info', run: checkQemuAfXdp },
  { id: 'qemu-libxdp', severity: 'info', run: checkQemuLibxdp },
  { id: 'kvm', severity: 'info', run: checkKvm },
  { id: 'iperf3', severity: 'required', run: checkIperf3 },
  { id: 'dpdk-testpmd', severity: 'required', run: checkTestpmd },
  { id: 'chromium', severity: 'info', run: checkChromium },
  { id: 'leftovers', severity: 'required', run: checkLeftovers },
];
