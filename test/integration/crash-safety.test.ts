// kill -9 of the engine in the middle of a real run: every sample measured up to the kill is in
// samples.jsonl, and the next start (or the sweep doctor --cleanup runs) removes what the dead
// run left, XDP programs on the user's own interfaces included, and finishes its report as
// incomplete. Each run has its own state and reports directories, so the sweep sees only it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { attachedXdp } from '../../benchmarks/lab/xdp-leftovers.js';
import type { LabState } from '../../benchmarks/lab/resources.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab } from '../helpers/veth-lab.js';

const root = resolve(import.meta.dirname, '../..');
const schema = JSON.parse(readFileSync(join(root, 'benchmarks/report/report.schema.json'), 'utf8'));
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite('crash safety: kill -9 of the engine mid-run', { root: true, tools: ['ip', 'ethtool', 'setpriv', 'pgrep'] }, () => {
  let stateDir: string;
  let reportsDir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    if (!existsSync(join(root, 'dist/benchmarks/cli/main.js'))) execFileSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
    stateDir = mkdtempSync(join(tmpdir(), 'xdplab-crash-state-'));
    reportsDir = mkdtempSync(join(tmpdir(), 'xdplab-crash-reports-'));
    env = { ...process.env, XDPLAB_STATE_DIR: stateDir, XDPLAB_REPORTS_DIR: reportsDir };
  });
  afterEach(() => {
    // Whatever the test's assertions said, sweep the dead run's lab before removing its record.
    spawnSync(process.execPath, ['-e', `import('${join(root, 'dist/benchmarks/report/recovery.js')}').then((m) => m.recoverDeadRuns())`], { env, stdio: 'ignore' });
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(reportsDir, { recursive: true, force: true });
  });

  /** Starts `xdplab bench ARGS` and SIGKILLs it once `minSamples` samples are on disk. */
  async function killMidRun(args: string[], minSamples: number): Promise<{ dir: string; state: LabState; linesAtKill: number }> {
    const child = spawn(process.execPath, [join(root, 'bin/xdplab.js'), 'bench', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const deadline = Date.now() + 90_000;
    let dir = '';
    let lines = 0;
    while (Date.now() < deadline) {
      const name = readdirSync(reportsDir)[0];
      dir = name ? join(reportsDir, name) : '';
      lines = dir && existsSync(join(dir, 'samples.jsonl')) ? readFileSync(join(dir, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).length : 0;
      if (lines >= minSamples || child.exitCode !== null) break;
      await sleep(100);
    }
    const states = readdirSync(stateDir).filter((f) => f.endsWith('.json'));
    expect(child.exitCode, `the run ended before ${minSamples} samples: ${stderr}`).toBeNull();
    expect(states.length).toBe(1);
    const state = JSON.parse(readFileSync(join(stateDir, states[0]!), 'utf8')) as LabState;
    child.kill('SIGKILL');
    await exited;
    const linesAtKill = readFileSync(join(dir, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    return { dir, state, linesAtKill };
  }

  function expectFinishedIncomplete(dir: string, linesAtKill: number) {
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    const validate = new Ajv2020.default({ strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.status).toBe('incomplete');
    expect(report.failure).toMatch(/died before the run finished/);
    expect(report.finishedAt).toBeTruthy();
    expect(report.samples.length).toBe(linesAtKill);
    expect(report.rows.some((r: { reason?: string }) => /interrupted: .*samples are in samples.jsonl/.test(r.reason ?? ''))).toBe(true);
  }

  it('embedded lab: samples up to the kill are kept; the next start removes the namespaces and processes and finishes the report', async () => {
    const { dir, state, linesAtKill } = await killMidRun(['--engines', 'txonly,rxonly', '--modes', 'skb', '--duration', '3', '--warmup', '0.2', '--trials', '2'], 3);
    expect(linesAtKill).toBeGreaterThanOrEqual(3);
    // Every line on disk is a whole sample: nothing half-written.
    for (const l of readFileSync(join(dir, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).status).toBe('incomplete');
    const ownNs = state.resources.flatMap((r) => (r.kind === 'netns' ? [r.name] : []));
    expect(ownNs.length).toBe(2);
    for (const ns of ownNs) expect(namespaces()).toContain(ns);

    // The next start sweeps before it runs.
    const next = spawnSync(process.execPath, [join(root, 'bin/xdplab.js'), 'bench', '--engines', 'txonly', '--modes', 'skb', '--duration', '0.3', '--warmup', '0', '--trials', '1'], { env, encoding: 'utf8', timeout: 90_000 });
    expect(next.stderr).toMatch(new RegExp(`a run that died left: removed namespace ${ownNs[0]}`));
    expect(next.stderr).toContain(`a run that died left: marked the report in ${dir} incomplete`);
    expect(next.status, next.stderr).toBe(0);
    for (const ns of ownNs) expect(namespaces()).not.toContain(ns);
    expect(spawnSync('pgrep', ['-f', `xl-${state.id}-`]).status).toBe(1);
    expect(existsSync(join(stateDir, `${state.id}.json`))).toBe(false);
    expectFinishedIncomplete(dir, linesAtKill);
  }, 180_000);

  it('existing interfaces: the XDP programs the dead run attached are removed, the interfaces stay', async () => {
    const v = createVethLab();
    try {
      // txonly's sink is xdplab's drop program on the peer, attached by the engine itself: a
      // SIGKILL leaves it there (the workers, told by their parent-death signal, detach theirs).
      const { dir, linesAtKill } = await killMidRun(['--engines', 'txonly', '--modes', 'skb', '--duration', '4', '--warmup', '0.2', '--trials', '3',
        '--ifname', v.ifB, '--netns', v.nsB, '--peer', v.ifA, '--peer-netns', v.nsA], 2);
      expect(attachedXdp(v.nsA, v.ifA).map((p) => p.name)).toEqual(['xdplab_drop']);
      // The workers get SIGTERM when their parent dies and close their ports (a few seconds on a busy machine).
      const workerAlive = () => spawnSync('pgrep', ['-f', `engines/worker.js .*${v.ifB}`]).status === 0;
      for (let i = 0; i < 100 && workerAlive(); i++) await sleep(100);
      expect(workerAlive(), 'the workers exit with their parent').toBe(false);

      const swept = spawnSync(process.execPath, ['-e', `import('${join(root, 'dist/benchmarks/report/recovery.js')}').then((m) => console.log(m.recoverDeadRuns().join('\\n')))`], { env, encoding: 'utf8' });
      expect(swept.stdout).toMatch(new RegExp(`XDP program \\d+ 'xdplab_drop' \\(skb mode\\) on ${v.ifA} in ${v.nsA}`));
      expect(attachedXdp(v.nsA, v.ifA)).toEqual([]);
      expect(attachedXdp(v.nsB, v.ifB)).toEqual([]);
      // The user's interfaces are theirs: still there.
      expect(v.lab.ip(v.nsA, ['link', 'show', v.ifA])).toContain(v.ifA);
      expectFinishedIncomplete(dir, linesAtKill);
    } finally {
      v.lab.close();
    }
  }, 180_000);
});
