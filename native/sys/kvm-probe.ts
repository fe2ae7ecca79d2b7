// Can /dev/kvm run guest code at hardware speed? Opening it and KVM_CREATE_VM are not enough:
// a nested setup such as kvm-pvm (pagetable-based virtualization, no VMX/SVM) accepts every
// ioctl, then emulates an ordinary guest instruction by instruction, slower than QEMU's TCG.
// So we run a tiny real-mode guest (count a loop down, then HLT) and time KVM_RUN.
import koffi from 'koffi';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { describeError } from '../../benchmarks/contracts/errors.js';
import { errnoName } from '../errors.js';
import { errno, libc, mapMemory, unmapMemory, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, type Pointer } from './libc.js';

// <linux/kvm.h>
const KVM_GET_API_VERSION = 0xae00;
const KVM_CREATE_VM = 0xae01;
const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
const KVM_CREATE_VCPU = 0xae41;
const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
const KVM_SET_REGS = 0x4090ae82;
const KVM_GET_SREGS = 0x8138ae83;
const KVM_SET_SREGS = 0x4138ae84;
const KVM_RUN = 0xae80;
const KVM_EXIT_HLT = 5;
const EXIT_NAMES: Record<number, string> = { 2: 'IO', 6: 'MMIO', 8: 'SHUTDOWN', 9: 'FAIL_ENTRY', 17: 'INTERNAL_ERROR' };

export const LOOP_ITERATIONS = 100_000;
/** Hardware virtualization runs `dec ecx; jnz` at about 1 ns per iteration; emulation at microseconds. */
export const MAX_NS_PER_ITERATION = 100;
const RUN_TIMEOUT_MS = 5000;

export interface KvmProbe {
  /** The furthest step reached: what worked is in detail. */
  stage: 'open' | 'api' | 'create-vm' | 'setup' | 'run' | 'done';
  ok: boolean;
  /** stage 'open': the device does not exist (as opposed to one that does not open). */
  absent?: boolean;
  detail: string;
  nsPerIteration?: number;
}

/** Which kernel module backs /dev/kvm, and whether the CPU offers VMX/SVM to this kernel. */
export function kvmBackend(): { module: string | undefined; hardwareVirt: boolean } {
  const module = ['kvm_intel', 'kvm_amd', 'kvm_pvm'].find((m) => existsSync(`/sys/module/${m}`));
  let flags = '';
  try { flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? ''; } catch { /* no procfs */ }
  return { module, hardwareVirt: /\b(vmx|svm)\b/.test(flags) };
}

function ioctl(fd: number, req: number, arg: Buffer | null): number {
  return Number(libc().ioctl(fd, req, arg));
}

function fail(stage: KvmProbe['stage'], call: string, detail = ''): KvmProbe {
  return { stage, ok: false, detail: `${call} failed with ${errnoName(errno())}${detail}` };
}

export async function probeKvm(device = '/dev/kvm'): Promise<KvmProbe> {
  let kvm: number;
  try { kvm = openSync(device, 'r+'); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { stage: 'open', ok: false, absent: true, detail: `no ${device}` };
    if (code === 'EACCES') return { stage: 'open', ok: false, detail: `no permission to open ${device}: add the user to group kvm (usermod -aG kvm $USER)` };
    return { stage: 'open', ok: false, detail: `opening ${device}: ${describeError(err)}` };
  }
  const fds: number[] = [];
  const maps: [Pointer, number][] = [];
  let stuck = false;
  try {
    const api = ioctl(kvm, KVM_GET_API_VERSION, null);
    if (api !== 12) return { stage: 'api', ok: false, detail: `KVM_GET_API_VERSION returned ${api}, expected 12` };
    const vm = ioctl(kvm, KVM_CREATE_VM, null);
    if (vm < 0) return fail('create-vm', 'KVM_CREATE_VM');
    fds.push(vm);

    // 64 KiB of guest memory at guest address 0, code at 0x1000:
    // mov ecx, N; l: dec ecx; jnz l; hlt
    const memBytes = 0x10000;
    const mem = mapMemory(memBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, 'guest memory for the KVM probe');
    maps.push([mem.ptr, memBytes]);
    const n = LOOP_ITERATIONS;
    new Uint8Array(mem.buffer).set([0x66, 0xb9, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0x66, 0x49, 0x75, 0xfc, 0xf4], 0x1000);
    const region = Buffer.alloc(32); // slot, flags, guest_phys_addr, memory_size, userspace_addr
    region.writeBigUInt64LE(BigInt(memBytes), 16);
    region.writeBigUInt64LE(koffi.address(mem.ptr) as bigint, 24);
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, region) < 0) return fail('setup', 'KVM_SET_USER_MEMORY_REGION');
    const vcpu = ioctl(vm, KVM_CREATE_VCPU, null);
    if (vcpu < 0) return fail('setup', 'KVM_CREATE_VCPU');
    fds.push(vcpu);
    const runBytes = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, null);
    if (runBytes <= 0) return fail('setup', 'KVM_GET_VCPU_MMAP_SIZE');
    const run = mapMemory(runBytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0, 'struct kvm_run');
    maps.push([run.ptr, runBytes]);
    // Real mode, CS base 0 (reset state has CS base 0xffff0000), rip 0x1000, rflags bit 1.
    const sregs = Buffer.alloc(312);
    if (ioctl(vcpu, KVM_GET_SREGS, sregs) < 0) return fail('setup', 'KVM_GET_SREGS');
    sregs.writeBigUInt64LE(0n, 0);
    sregs.writeUInt16LE(0, 12);
    if (ioctl(vcpu, KVM_SET_SREGS, sregs) < 0) return fail('setup', 'KVM_SET_SREGS');
    const regs = Buffer.alloc(144);
    regs.writeBigUInt64LE(0x1000n, 128);
    regs.writeBigUInt64LE(2n, 136);
    if (ioctl(vcpu, KVM_SET_REGS, regs) < 0) return fail('setup', 'KVM_SET_REGS');

    // KVM_RUN on koffi's worker thread, so a guest that never halts cannot hang doctor.
    const started = process.hrtime.bigint();
    const rc = await new Promise<number | 'timeout'>((resolve, reject) => {
      const timer = setTimeout(() => resolve('timeout'), RUN_TIMEOUT_MS);
      libc().ioctl.async(vcpu, KVM_RUN, null, (err: unknown, res: number) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve(res);
      });
    });
    if (rc === 'timeout') {
      stuck = true; // the worker thread still runs the guest: leave its fds and memory alone
      return { stage: 'run', ok: false, detail: `KVM_RUN of a ${n}-iteration loop did not return within ${RUN_TIMEOUT_MS / 1000} s` };
    }
    const elapsedNs = Number(process.hrtime.bigint() - started);
    if (rc < 0) return { stage: 'run', ok: false, detail: 'KVM_RUN failed' };
    const exit = new DataView(run.buffer).getUint32(8, true);
    if (exit !== KVM_EXIT_HLT) return { stage: 'run', ok: false, detail: `KVM_RUN stopped with KVM_EXIT_${EXIT_NAMES[exit] ?? exit} instead of HLT` };
    const nsPerIteration = elapsedNs / n;
    return { stage: 'done', ok: nsPerIteration <= MAX_NS_PER_ITERATION, nsPerIteration, detail: `a ${n}-iteration guest loop took ${(elapsedNs / 1e6).toFixed(1)} ms in KVM_RUN` };
  } catch (err) {
    return { stage: 'setup', ok: false, detail: describeError(err) };
  } finally {
    if (!stuck) {
      for (const [ptr, len] of maps) unmapMemory(ptr, len);
      for (const fd of fds.reverse()) libc().close(fd);
      closeSync(kvm);
    }
  }
}
