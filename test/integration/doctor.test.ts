// The real `xdplab doctor` through bin/xdplab.js on dist/ (npm test builds first; this file
// builds only when dist/ is missing). The cleanup test creates a real namespace owned by a fake
// crashed lab in a temporary state directory, and removes whatever is left even on failure.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labStateDir } from '../../benchmarks/lab/state.js';
import type { LabState } from '../../benchmarks/lab/resources.js';
import { suite } from '../helpers/requirements.js';

const root = resolve(import.meta.dirname, '../..');
const REQUIRED_IDS = ['af-xdp', 'capabilities', 'memlock', 'libxdp', 'qemu', 'iperf3', 'dpdk-testpmd', 'leftovers'];
const ALL_IDS = ['af-xdp', 'capabilities', 'memlock', 'bpffs', 'libxdp', 'qemu', 'qemu-af-xdp', 'qemu-libxdp', 'kvm', 'iperf3', 'dpdk-testpmd', 'chromium', 'leftovers'];

interface Result { id: string; ok: boolean; detail: string; severity: string }

function xdplab(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin/xdplab.js'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/benchmarks/cli/main.js'))) execFileSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
}, 120_000);

describe('xdplab doctor', () => {
  it('--json prints {"checks":[{id, ok, detail, severity}]} with every check, in order', () => {
    const r = xdplab(['doctor', '--json']);
    const parsed = JSON.parse(r.stdout) as { checks: Result[] };
    expect(Object.keys(parsed)).toEqual(['checks']);
    expect(parsed.checks.map((c) => c.id)).toEqual(ALL_IDS);
    for (const c of parsed.checks) {
      expect(typeof c.ok).toBe('boolean');
      expect(c.detail.length).toBeGreaterThan(0);
      expect(['required', 'info']).toContain(c.severity);
    }
    for (const id of REQUIRED_IDS) expect(parsed.checks.find((c) => c.id === id)?.severity).toBe('required');
    // The exit code follows the required checks only.
    const requiredOk = parsed.checks.every((c) => c.ok || c.severity !== 'required');
    expect(r.code).toBe(requiredOk ? 0 : 1);
  }, 60_000);

  it('human mode prints one line per check and a summary', () => {
    const r = xdplab(['doctor']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(ALL_IDS.length + 1);
    lines.slice(0, -1).forEach((l, i) => expect(l).toMatch(new RegExp(`^(ok  |FAIL|warn) ${ALL_IDS[i]} +\\S`)));
    expect(lines.at(-1)).toMatch(/^doctor: 13 checks: \d+ ok, \d+ failed/);
  }, 60_000);

  it('exits 2 on an unknown command, with a message on stderr', () => {
    const r = xdplab(['bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("unknown command 'bogus'");
  });
});

suite('xdplab doctor as root', { root: true, tools: ['ip'] }, () => {
  it('af-xdp and capabilities are ok', () => {
    const { checks } = JSON.parse(xdplab(['doctor', '--json']).stdout) as { checks: Result[] };
    expect(checks.find((c) => c.id === 'af-xdp')).toMatchObject({ ok: true });
    expect(checks.find((c) => c.id === 'capabilities')).toMatchObject({ ok: true });
  }, 60_000);

  it('--cleanup removes the namespace a crashed lab left behind', (ctx) => {
    const id = randomBytes(3).toString('hex');
    const ns = `xl-${id}-d`;
    const stateDir = mkdtempSync(join(tmpdir(), 'xdplab-doctor-'));
    try {
      // With its own state directory, doctor takes every xl- namespace it does not know for a
      // stray: copy the live labs' state so that parallel tests' namespaces stay theirs.
      const realDir = labStateDir();
      const owned = new Set<string>();
      for (const f of existsSync(realDir) ? readdirSync(realDir).filter((f) => f.endsWith('.json')) : []) {
        try {
          const s = JSON.parse(readFileSync(join(realDir, f), 'utf8')) as LabState;
          if (!alive(s.pid)) continue;
          copyFileSync(join(realDir, f), join(stateDir, f));
          for (const r of s.resources) if (r.kind === 'netns') owned.add(r.name);
        } catch { /* torn write */ }
      }
      const foreign = netnsList().filter((n) => n.startsWith('xl-') && !owned.has(n));
      if (foreign.length) ctx.skip(`xl- namespaces that no live lab owns exist (${foreign.join(', ')}); not removing what this test did not create`);

      // A lab whose owner is dead: the pid of a process that has already exited.
      const deadPid = spawnSync('true').pid;
      execFileSync('ip', ['netns', 'add', ns]);
      const state: LabState = { id, pid: deadPid, createdAt: new Date().toISOString(), resources: [{ kind: 'netns', name: ns }] };
      writeFileSync(join(stateDir, `${id}.json`), JSON.stringify(state));
      const env = { XDPLAB_STATE_DIR: stateDir };

      const before = xdplab(['doctor', '--json'], env);
      const leftovers = (JSON.parse(before.stdout) as { checks: Result[] }).checks.find((c) => c.id === 'leftovers')!;
      expect(leftovers.ok).toBe(false);
      expect(leftovers.detail).toContain(ns);
      expect(leftovers.detail).toContain('xdplab doctor --cleanup');
      expect(before.code).toBe(1);

      const r = xdplab(['doctor', '--cleanup'], env);
      expect(r.stdout).toContain(`removed namespace ${ns}`);
      expect(r.stdout).toMatch(/^ok   leftovers/m);
      expect(netnsList()).not.toContain(ns);
      expect(existsSync(join(stateDir, `${id}.json`))).toBe(false);

      const again = xdplab(['doctor', '--cleanup'], env);
      expect(again.stdout).not.toContain(ns);
      if (owned.size === 0) expect(again.stdout.split('\n')[0]).toBe('nothing to clean up');
    } finally {
      if (netnsList().includes(ns)) spawnSync('ip', ['netns', 'del', ns]);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
