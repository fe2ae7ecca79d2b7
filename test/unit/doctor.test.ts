// The pure parts of `xdplab doctor`: parsers fed with captured samples, formatting, exit-code
// logic, tool running limits, and CLI usage errors.
import { describe, it, expect } from 'vitest';
import { bpffsMounted, compareVersions, hasCap, missingCapabilities, parseCapEff, parseNetdevHelp, parseQemuVersion, parseVersion, type Check } from '../../benchmarks/doctor/checks.js';
import { formatHuman, formatJson, passed, runChecks, statusWord, type CheckResult } from '../../benchmarks/doctor/doctor.js';
import { runTool } from '../../benchmarks/lab/exec.js';
import { main } from '../../benchmarks/cli/main.js';

// Captured from Debian's QEMU 10.0.2 (bookworm-backports) on the lab machine.
const NETDEV_HELP_DEBIAN = `Available netdev backend types:
socket
stream
dgram
hubport
tap
user
l2tpv3
vde
bridge
vhost-user
vhost-vdpa
`;
const NETDEV_HELP_AF_XDP = NETDEV_HELP_DEBIAN.replace('vhost-vdpa\n', 'vhost-vdpa\naf-xdp\n');

describe('capabilities', () => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

  it('reads CapEff as a bit mask', () => {
    expect(parseCapEff(status('000001fffeffffff'))).toBe(0x1fffeffffffn);
    expect(parseCapEff('Name:\tx\n')).toBeUndefined();
  });

  it('root (all bits but CAP_SYS_RESOURCE, as on the lab machine) lacks nothing', () => {
    const mask = parseCapEff(status('000001fffeffffff'))!;
    expect(hasCap(mask, 'CAP_NET_ADMIN')).toBe(true);
    expect(hasCap(mask, 'CAP_BPF')).toBe(true);
    expect(missingCapabilities(mask)).toEqual([]);
  });

  it('names what is missing; CAP_SYS_ADMIN stands in for CAP_BPF', () => {
    const netOnly = (1n << 12n) | (1n << 13n);
    expect(missingCapabilities(netOnly)).toEqual(['CAP_IPC_LOCK', 'CAP_BPF (or CAP_SYS_ADMIN)']);
    expect(missingCapabilities(netOnly | (1n << 14n) | (1n << 21n))).toEqual([]);
    expect(missingCapabilities(0n)).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_BPF (or CAP_SYS_ADMIN)']);
  });
});

describe('versions', () => {
  it('parses the numeric part, without a Debian epoch or revision', () => {
    expect(parseVersion('1:10.0.2+ds-2+deb13u1~bpo12+1')).toEqual([10, 0, 2]);
    expect(parseVersion('1.3.1-1')).toEqual([1, 3, 1]);
    expect(parseVersion('unknown')).toBeUndefined();
  });

  it('compares component by component, missing components as 0', () => {
    expect(compareVersions('10.0.2', '8.2')).toBeGreaterThan(0);
    expect(compareVersions('8.1.5', '8.2')).toBeLessThan(0);
    expect(compareVersions('8.2', '8.2.0')).toBe(0);
    expect(compareVersions('1.3.1-1', '1.4')).toBeLessThan(0);
    expect(compareVersions('1:10.0.2+ds-2', '8.2')).toBeGreaterThan(0);
  });

  it('finds QEMU\'s version in its --version output', () => {
    expect(parseQemuVersion('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright (c) 2003-2025')).toBe('10.0.2');
    expect(parseQemuVersion('QEMU emulator version 8.2\n')).toBe('8.2');
    expect(parseQemuVersion('something else')).toBeUndefined();
  });
});

describe('qemu -netdev help', () => {
  it('lists the backends of Debian\'s QEMU 10.0.2, without af-xdp', () => {
    const netdevs = parseNetdevHelp(NETDEV_HELP_DEBIAN);
    expect(netdevs).toEqual(['socket', 'stream', 'dgram', 'hubport', 'tap', 'user', 'l2tpv3', 'vde', 'bridge', 'vhost-user', 'vhost-vdpa']);
    expect(netdevs).not.toContain('af-xdp');
  });

  it('sees af-xdp when a QEMU has it', () => {
    expect(parseNetdevHelp(NETDEV_HELP_AF_XDP)).toContain('af-xdp');
  });
});

describe('bpffs', () => {
  it('is mounted only when /sys/fs/bpf has type bpf', () => {
    const base = 'sysfs /sys sysfs rw,nosuid 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
    expect(bpffsMounted(base)).toBe(false);
    expect(bpffsMounted(`${base}bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0\n`)).toBe(true);
    expect(bpffsMounted(`${base}tmpfs /sys/fs/bpf tmpfs rw 0 0\n`)).toBe(false);
  });
});

describe('results and formatting', () => {
  const results: CheckResult[] = [
    { id: 'af-xdp', ok: true, detail: 'AF_XDP sockets can be created (kernel 6.18.44)', severity: 'required' },
    { id: 'qemu-af-xdp', ok: false, detail: 'this QEMU lacks the af-xdp netdev', severity: 'info' },
  ];

  it('prints a status word, the id in a column, the detail, and a summary', () => {
    const text = formatHuman(results);
    expect(text).toBe(
      'ok   af-xdp        AF_XDP sockets can be created (kernel 6.18.44)\n' +
      'warn qemu-af-xdp   this QEMU lacks the af-xdp netdev\n' +
      'doctor: 2 checks: 1 ok, 0 failed, 1 informational not ok (qemu-af-xdp); every required check passed\n',
    );
  });

  it('fails only on required checks', () => {
    expect(passed(results)).toBe(true);
    const bad: CheckResult = { id: 'memlock', ok: false, detail: 'x', severity: 'required' };
    expect(passed([...results, bad])).toBe(false);
    expect(statusWord(bad)).toBe('FAIL');
    expect(formatHuman([...results, bad])).toMatch(/required checks failed: memlock\n$/);
  });

  it('prints {"checks":[...]} with id, ok, detail', () => {
    const parsed = JSON.parse(formatJson(results)) as { checks: CheckResult[] };
    expect(Object.keys(parsed)).toEqual(['checks']);
    expect(parsed.checks[0]).toEqual(results[0]);
    expect(JSON.parse(formatJson(results, ['namespace xl-abc123-d'])).cleanup).toEqual(['namespace xl-abc123-d']);
  });

  it('keeps the order, turns a throwing check into a not-ok result, marks informational ones', async () => {
    const checks: Check[] = [
      { id: 'slow', severity: 'required', run: () => new Promise((r) => setTimeout(() => r({ ok: true, detail: 'slow' }), 30)) },
      { id: 'boom', severity: 'required', run: () => { throw new Error('exploded'); } },
      { id: 'info', severity: 'info', run: () => ({ ok: false, detail: 'missing' }) },
    ];
    const r = await runChecks({}, checks);
    expect(r.map((x) => x.id)).toEqual(['slow', 'boom', 'info']);
    expect(r[1]).toMatchObject({ ok: false, detail: 'the check itself failed: exploded' });
    expect(r[2]!.detail).toBe('missing (informational: does not fail doctor)');
  });
});

describe('runTool', () => {
  it('turns a missing binary into a problem, not an exception', async () => {
    const r = await runTool('/nonexistent/xdplab-tool', ['--version']);
    expect(r).toMatchObject({ ok: false, problem: '/nonexistent/xdplab-tool not found' });
  });

  it('kills a tool that runs past its timeout', async () => {
    const started = Date.now();
    const r = await runTool('sleep', ['10'], 200);
    expect(r).toMatchObject({ ok: false, problem: 'timed out after 0.2 s' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports the exit code and the first stderr line', async () => {
    const r = await runTool('sh', ['-c', 'echo broken >&2; exit 3']);
    expect(r).toMatchObject({ ok: false, problem: 'sh exited with 3: broken' });
  });
});

describe('xdplab CLI usage', () => {
  async function cli(argv: string[]) {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
    return { code, out, err };
  }

  it('exits 2 on an unknown command, naming it and the known ones', async () => {
    const r = await cli(['bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'bogus'");
    expect(r.err).toContain('doctor');
  });

  it('exits 2 on a bad doctor flag or argument', async () => {
    expect((await cli(['doctor', '--nope'])).code).toBe(2);
    expect((await cli(['doctor', '--nope'])).err).toContain('--nope');
    expect((await cli(['doctor', 'extra'])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
  });

  it('prints help with exit code 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.out).toContain('xdplab <command>');
    const doc = await cli(['doctor', '--help']);
    expect(doc.code).toBe(0);
    expect(doc.out).toContain('--cleanup');
  });
});
