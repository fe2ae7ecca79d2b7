// Which accelerator a QEMU binary should use here: KVM when this QEMU has it and /dev/kvm runs
// guest code at hardware speed (doctor's probe: a nested kvm-pvm accepts every ioctl and then
// emulates slower than TCG), else TCG. XDPLAB_ACCEL=kvm|tcg overrides the choice. Cached per
// binary for the life of the process.
import { runTool } from '../lab/exec.js';
import { probeKvm, type KvmProbe } from '../../native/index.js';

export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** Why: what was found, in words fit for a report. */
  reason: string;
}

/** `-accel help` -> the accelerators this binary was built with. */
export function parseAccelHelp(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9-]+$/.test(l));
}

let kvmProbe: Promise<KvmProbe> | undefined;
const byBinary = new Map<string, Promise<AccelChoice>>();

async function choose(binary: string): Promise<AccelChoice> {
  const forced = process.env.XDPLAB_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return { accel: forced, reason: `XDPLAB_ACCEL=${forced}` };
  const help = await runTool(binary, ['-accel', 'help']);
  if (!help.ok) return { accel: 'tcg', reason: `could not ask ${binary} for its accelerators (${help.problem}); using TCG` };
  if (!parseAccelHelp(help.stdout).includes('kvm')) return { accel: 'tcg', reason: `${binary} was built without KVM; using TCG` };
  kvmProbe ??= probeKvm();
  const p = await kvmProbe;
  if (p.ok) return { accel: 'kvm', reason: `/dev/kvm runs guest code at hardware speed (${p.detail})` };
  const slow = p.stage === 'done' && p.nsPerIteration !== undefined ? ` (${(p.nsPerIteration / 1000).toFixed(1)} µs per loop iteration, emulated)` : '';
  return { accel: 'tcg', reason: `KVM not usable: ${p.detail}${slow}; using TCG` };
}

/** KVM when it works with this binary, else TCG; never throws. */
export function accelFor(binary: string): Promise<AccelChoice> {
  let c = byBinary.get(binary);
  if (!c) {
    c = choose(binary).catch((err: unknown) => ({ accel: 'tcg' as const, reason: `KVM probe failed (${err instanceof Error ? err.message : String(err)}); using TCG` }));
    byBinary.set(binary, c);
  }
  return c;
}

/** QEMU arguments for the accelerator: KVM passes the host CPU through; TCG emulates qemu64 (QEMU's default: `max` made a TCG boot ~25% slower, e.g. AVX state to save on every context switch). */
export function accelArgs(accel: Accel): string[] {
  return accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'qemu64'];
}
