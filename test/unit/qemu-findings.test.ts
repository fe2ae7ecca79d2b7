// Findings from a QEMU built with af-xdp: the libxdp that QEMU links (not the system's) in doctor
// and the report's environment; packet rows' Mpps in `xdplab vm bench`'s table; doctor's kvm line
// telling one story. A stand-in "QEMU" (a C program linked against a copy of the system's libxdp
// renamed 1.4.3, found through its rpath) plays the af-xdp build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkQemuLibxdp, kvmDetail } from '../../benchmarks/doctor/checks.js';
import { which } from '../../benchmarks/lab/exec.js';
import { vmReportTable } from '../../benchmarks/cli/commands/vm-bench.js';
import { linkedLibrary, parseLdd, pcVersion, versionFromFileName } from '../../benchmarks/lab/linked-library.js';
import { toolVersions } from '../../benchmarks/report/environment.js';
import { summarize } from '../../benchmarks/report/statistics.js';
import { sampleReport } from '../helpers/sample-report.js';
import { itNeeds } from '../helpers/requirements.js';

const LDD_AF_XDP_BUILD = `	linux-vdso.so.1 (0x00007ffd3a5f2000)
	libxdp.so.1 => /opt/xdp/lib/libxdp.so.1 (0x00007f1c2b9e0000)
	libbpf.so.1 => /lib/x86_64-linux-gnu/libbpf.so.1 (0x00007f1c2b990000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c2b7af000)
`;

describe('the libxdp a binary links (ldd, rpath, version)', () => {
  it('parses ldd: the resolved path, a missing library, none', () => {
    expect(parseLdd(LDD_AF_XDP_BUILD, 'libxdp')).toEqual({ soname: 'libxdp.so.1', path: '/opt/xdp/lib/libxdp.so.1' });
    expect(parseLdd('\tlibxdp.so.1 => not found\n', 'libxdp')).toEqual({ soname: 'libxdp.so.1' });
    expect(parseLdd('\tlibbpf.so.1 => /lib/x86_64-linux-gnu/libbpf.so.1 (0x1)\n', 'libxdp')).toBeUndefined();
  });

  it('versions from the real file name and from pkg-config', () => {
    expect(versionFromFileName('/opt/xdp/lib/libxdp.so.1.4.3', 'libxdp')).toBe('1.4.3');
    expect(versionFromFileName('/usr/lib/libxdp.so.1', 'libxdp')).toBeUndefined();
    expect(pcVersion('prefix=/usr\nName: libxdp\nVersion: 1.3.1\n')).toBe('1.3.1');
  });

  const dir = mkdtempSync(join(tmpdir(), 'xdplab-qemu-libxdp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const systemLibxdp = (() => { try { return realpathSync('/usr/lib/x86_64-linux-gnu/libxdp.so.1'); } catch { return undefined; } })();

  /** A fake QEMU (prints a version) linked against libxdp.so.1 in its own lib/ (rpath). */
  function fakeQemu(name: string, withPc: boolean): string {
    const root = join(dir, name);
    mkdirSync(join(root, 'lib', 'pkgconfig'), { recursive: true });
    copyFileSync(systemLibxdp!, join(root, 'lib', 'libxdp.so.1.4.3'));
    symlinkSync('libxdp.so.1.4.3', join(root, 'lib', 'libxdp.so.1'));
    if (withPc) writeFileSync(join(root, 'lib', 'pkgconfig', 'libxdp.pc'), 'Name: libxdp\nVersion: 1.4.5\n');
    writeFileSync(join(root, 'q.c'), '#include <stdio.h>\nint main(void) { puts("QEMU emulator version 9.2.0"); return 0; }\n');
    const bin = join(root, 'qemu-system-x86_64');
    execFileSync('gcc', [join(root, 'q.c'), '-o', bin, '-Wl,--no-as-needed', `-L${join(root, 'lib')}`, '-l:libxdp.so.1', `-Wl,-rpath,${join(root, 'lib')}`]);
    return bin;
  }
  const needs = { tools: ['gcc', 'ldd'] };
  const haveLib = systemLibxdp ? {} : { tools: ['libxdp.so.1 (package libxdp1)'] };

  itNeeds('a QEMU with its own libxdp (rpath): path and version from pkg-config, else from the file name', { tools: [...needs.tools, ...(haveLib.tools ?? [])] }, () => {
    const withPc = linkedLibrary(fakeQemu('pc', true));
    expect(withPc).toMatchObject({ linked: true, soname: 'libxdp.so.1', realPath: join(dir, 'pc', 'lib', 'libxdp.so.1.4.3'), version: '1.4.5', versionFrom: 'pkg-config' });
    const noPc = linkedLibrary(fakeQemu('nopc', false));
    expect(noPc).toMatchObject({ linked: true, realPath: join(dir, 'nopc', 'lib', 'libxdp.so.1.4.3'), version: '1.4.3', versionFrom: 'file name' });
  });

  itNeeds("doctor's qemu-libxdp names the QEMU's libxdp, not the system's; the report's tools too", { tools: [...needs.tools, ...(haveLib.tools ?? [])] }, async () => {
    const bin = join(dir, 'nopc', 'qemu-system-x86_64');
    const c = await checkQemuLibxdp({ qemu: bin });
    expect(c.ok).toBe(true);
    expect(c.detail).toContain(`${bin} links libxdp 1.4.3 (${join(dir, 'nopc', 'lib', 'libxdp.so.1')} -> ${join(dir, 'nopc', 'lib', 'libxdp.so.1.4.3')}`);
    expect(c.detail).toContain("not the system's");
    const tools = toolVersions(bin);
    expect(tools.qemu).toBe(`QEMU emulator version 9.2.0 (${bin})`);
    expect(tools['qemu-libxdp']).toBe(`1.4.3 (${join(dir, 'nopc', 'lib', 'libxdp.so.1.4.3')}, linked by ${bin})`);
    // The system's stays, labelled as the datapath's.
    if (tools.libxdp) expect(tools.libxdp).toMatch(/\(package libxdp1, xdplab's datapath\)$/);
  });

  itNeeds("Debian's QEMU (no af-xdp) links no libxdp: doctor says so", { tools: ['qemu-system-x86_64', 'ldd'] }, async () => {
    const qemu = which('qemu-system-x86_64')!;
    const l = linkedLibrary(qemu);
    if (l.linked) return; // a QEMU with af-xdp on PATH: the cases above cover it
    const c = await checkQemuLibxdp({ qemu });
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(new RegExp(`^${qemu} does not link libxdp, so it has no af-xdp netdev`));
    expect(toolVersions(qemu)['qemu-libxdp']).toBe(`none: ${qemu} does not link libxdp`);
  });
});

describe("doctor's kvm line tells one story", () => {
  const absent = { stage: 'open' as const, ok: false, absent: true, detail: 'no /dev/kvm' };
  it('no device, the kvm_pvm module loaded, no vmx/svm: one sentence about a missing device', () => {
    const d = kvmDetail(absent, { module: 'kvm_pvm', hardwareVirt: false }).detail;
    expect(d).toMatch(/^no \/dev\/kvm: the kvm_pvm module \(pagetable-based virtualization\) is loaded but provides no device here/);
    expect(d).not.toContain('/dev/kvm is kvm-pvm');
    expect(d).not.toContain('no KVM in this kernel');
    expect(d).toContain('the CPU shows no vmx/svm flag');
    expect(d).toContain('QEMU runs under TCG');
  });

  it('a device behind kvm-pvm that emulates: /dev/kvm is kvm-pvm, never "no /dev/kvm"', () => {
    const d = kvmDetail({ stage: 'done', ok: false, nsPerIteration: 5000, detail: 'a 100000-iteration guest loop took 500.0 ms in KVM_RUN' }, { module: 'kvm_pvm', hardwareVirt: false }).detail;
    expect(d).toMatch(/^KVM_CREATE_VM works, but guest code runs emulated: .*; \/dev\/kvm is kvm-pvm \(pagetable-based virtualization\)/);
    expect(d).not.toContain('no /dev/kvm');
  });

  it('no device, no module, the CPU has vmx: load the module; hardware speed: ok', () => {
    expect(kvmDetail(absent, { module: undefined, hardwareVirt: true }).detail).toMatch(/^no \/dev\/kvm: no KVM module is loaded; the CPU has vmx\/svm: load kvm_intel or kvm_amd/);
    expect(kvmDetail({ stage: 'done', ok: true, nsPerIteration: 1, detail: 'fast' }, { module: 'kvm_intel', hardwareVirt: true }).ok).toBe(true);
  });
});

describe("xdplab vm bench's table", () => {
  it('packet rows show Mpps in a column of their own, not under forward Gbps', () => {
    const r = sampleReport('vmtab', () => 2e6);
    const stat = (v: number) => summarize([v, v]);
    r.rows = [
      { id: 'tap/iperf3', test: 'iperf3', tool: 'iperf3', mode: 'tcp', backend: 'tap', status: 'ok', commandLines: [], trials: [], stats: { bitsPerSecond: stat(3e9), reverseBitsPerSecond: stat(2e9), bootMs: stat(2600) } },
      { id: 'tap/txonly', test: 'txonly', tool: 'xdplab', mode: 'native', backend: 'tap', status: 'ok', commandLines: [], trials: [], stats: { packetsPerSecond: stat(1.25e6), bitsPerSecond: stat(0.84e9), bootMs: stat(2700) } },
    ];
    const [head, iperf, txonly] = vmReportTable(r).trimEnd().split('\n');
    const col = (name: string) => head!.indexOf(name);
    expect(col('Mpps (min-max)')).toBeGreaterThan(col('reverse Gbps (min-max)'));
    expect(txonly!.slice(col('Mpps (min-max)'))).toMatch(/^1\.250 \(1\.250-1\.250\)/);
    expect(txonly!.slice(col('forward Gbps'), col('reverse Gbps')).trim()).toBe('');
    expect(iperf!.slice(col('forward Gbps'))).toMatch(/^3\.000 \(3\.000-3\.000\)\s+2\.000/);
    expect(iperf!.slice(col('Mpps (min-max)'), col('boot s')).trim()).toBe('');
    // iperf3 only: no Mpps column.
    r.rows = [r.rows[0]!];
    expect(vmReportTable(r)).not.toContain('Mpps');
  });
});
