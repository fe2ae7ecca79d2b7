// Scenario files: the committed scenario.schema.json is the one the zod source generates, the
// example scenarios validate (against the JSON Schema with an independent validator, and through
// the CLI's loader) and plan; `xdplab run` refuses bad files with the file, field and allowed
// values named (exit 2), and --plan says what a run would do without starting anything.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../benchmarks/cli/main.js';
import { filePath, loadScenarioFile } from '../../benchmarks/cli/commands/run.js';
import { ScenarioFileSchema, scenarioFileJsonSchema } from '../../benchmarks/contracts/scenario-file.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';

const scenariosDir = fileURLToPath(new URL('../../benchmarks/scenarios/', import.meta.url));
const schemaFile = join(scenariosDir, 'scenario.schema.json');
const EXAMPLES = ['backend-shootout.json', 'link-flap.json', 'ndr-pdr.json', 'netdev-hotswap.json'];
const tmp = mkdtempSync(join(tmpdir(), 'xdplab-scenario-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

function file(name: string, content: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

describe('scenario file schema', () => {
  it('the committed scenario.schema.json is the one the code generates (npm run schema)', () => {
    expect(JSON.parse(readFileSync(schemaFile, 'utf8'))).toEqual(scenarioFileJsonSchema());
  });

  it('the examples are the three documented ones', () => {
    expect(readdirSync(scenariosDir).filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json').sort()).toEqual([...EXAMPLES].sort());
  });

  const ajv = new Ajv2020.default({ strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
  for (const name of EXAMPLES) {
    it(`${name} validates against scenario.schema.json and ScenarioFileSchema`, async () => {
      const json: unknown = JSON.parse(readFileSync(join(scenariosDir, name), 'utf8'));
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
      expect(ScenarioFileSchema.safeParse(json).success).toBe(true);
      const loaded = await loadScenarioFile(join(scenariosDir, name));
      expect(loaded.title.length).toBeGreaterThan(0);
      expect(loaded.scenario).not.toHaveProperty('title');
    });
  }

  it('the JSON Schema refuses what zod refuses: an unknown member, a bad timeline action, no title', () => {
    const ok = { title: 't', tests: [], vm: { backends: ['tap'] } };
    expect(validate(ok)).toBe(true);
    expect(validate({ ...ok, extra: 1 })).toBe(false);
    expect(validate({ tests: [], vm: { backends: ['tap'] } })).toBe(false);
    expect(validate({ ...ok, timeline: [{ atMs: 1, action: { kind: 'reboot' } }] })).toBe(false);
    expect(validate({ ...ok, timeline: [{ atMs: 1, action: { kind: 'set_link' } }] })).toBe(false);
  });

  it('field paths read like the file: vm.backends[1], timeline[0].action.kind', () => {
    expect(filePath(['vm', 'backends', 1])).toBe('vm.backends[1]');
    expect(filePath(['timeline', 0, 'action', 'kind'])).toBe('timeline[0].action.kind');
  });
});

describe('the example scenarios plan (RunManager.plan)', () => {
  const runs = new RunManager(tmp);
  const plans = async (name: string) => {
    const loaded = await loadScenarioFile(join(scenariosDir, name));
    return runs.plan(loaded.scenario);
  };

  it('backend-shootout: tap, user and stream-unix iperf3, 2 trials; stream-unix boots two guests', async () => {
    const p = await plans('backend-shootout.json');
    expect(p.rows.map((r) => r.id)).toEqual(['tap/iperf3', 'user/iperf3', 'stream-unix/iperf3']);
    expect(p.trials).toBe(2);
    const runnable = p.rows.filter((r) => !r.unavailable).map((r) => r.backend);
    const boots = runnable.reduce((n, b) => n + (b === 'stream-unix' ? 2 : 1) * 2, 0);
    expect(p.vmBoots).toBe(boots);
    expect(p.estimatedMs).toBeGreaterThan(0);
  });

  it('link-flap: tap and user, ~8 s, set_link off at 3 s and on at 5 s on tap/iperf3 only', async () => {
    const loaded = await loadScenarioFile(join(scenariosDir, 'link-flap.json'));
    expect(loaded.timeline).toEqual([
      { atMs: 3000, rows: ['tap/iperf3'], action: { kind: 'set_link', up: false } },
      { atMs: 5000, rows: ['tap/iperf3'], action: { kind: 'set_link', up: true } },
    ]);
    expect(loaded.scenario.durationMs).toBe(8000);
    const p = await runs.plan(loaded.scenario);
    expect(p.rows.map((r) => r.id)).toEqual(['tap/iperf3', 'user/iperf3']);
  });

  it('netdev-hotswap: tap, ~10 s, netdev_swap at 4 s', async () => {
    const loaded = await loadScenarioFile(join(scenariosDir, 'netdev-hotswap.json'));
    expect(loaded.timeline).toEqual([{ atMs: 4000, rows: ['tap/iperf3'], action: { kind: 'netdev_swap' } }]);
    expect(loaded.scenario.durationMs).toBe(10000);
    const p = await runs.plan(loaded.scenario);
    expect(p.rows.map((r) => r.id)).toEqual(['tap/iperf3']);
  });
});

describe('xdplab run', () => {
  it('--help', async () => {
    const r = await cli(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: xdplab run FILE [--plan] [--json] [--out DIR] [--quick]');
    expect((await cli(['--help'])).out).toContain('run FILE');
  });

  it('--plan prints every row, the timeline, VM boots and the estimate, and starts nothing', async () => {
    const r = await cli(['run', join(scenariosDir, 'link-flap.json'), '--plan', '--out', tmp]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Link flap/);
    expect(r.out).toMatch(/tap\/iperf3 {2,}(runs|unavailable)/);
    expect(r.out).toMatch(/user\/iperf3 {2,}(runs|unavailable)/);
    expect(r.out).toContain('timeline: at 3 s set_link off on tap/iperf3');
    expect(r.out).toContain('timeline: at 5 s set_link on on tap/iperf3');
    expect(r.out).toMatch(/VM boots: \d+/);
    expect(r.out).toMatch(/estimated duration: \d+/);
    expect(readdirSync(tmp).filter((f) => /-[0-9a-f]{6}$/.test(f))).toEqual([]);
  });

  it('--plan --json is the plan as JSON; --quick notes timeline steps after the shortened window', async () => {
    const r = await cli(['run', join(scenariosDir, 'link-flap.json'), '--plan', '--json', '--quick']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { title: string; plan: { trials: number; rows: unknown[] }; notes: string[] };
    expect(j.plan.trials).toBe(1);
    expect(j.plan.rows).toHaveLength(2);
    expect(j.notes.join('\n')).toContain('timeline[0] at 3 s is after the measured window (1 s)');
  });

  it('a backend this QEMU cannot run is an unavailable row in the plan, with the reason; nothing runnable: exit 1', async () => {
    // Debian's QEMU is built without af-xdp (a QEMU with it: the row runs, exit 0).
    const f = file('af-xdp.json', { title: 'af-xdp only', tests: [], vm: { backends: ['af-xdp'] } });
    const r = await cli(['run', f, '--plan']);
    if (r.out.includes('af-xdp/iperf3  runs')) { expect(r.code).toBe(0); return; }
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/af-xdp\/iperf3 +unavailable: af-xdp: this QEMU \(.*\) lacks af-xdp/);
    expect(r.out).toContain('plan: 0 of 1 rows can run');
  });

  it('a vm.qemu that is no QEMU: exit 2, the field named', async () => {
    const f = file('no-qemu.json', { title: 'no QEMU', tests: [], vm: { backends: ['tap'], qemu: join(tmp, 'no-such-qemu') } });
    const r = await cli(['run', f, '--plan']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}: vm.qemu: QEMU not found`);
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['an unknown backend', { title: 't', tests: [], vm: { backends: ['tap', 'bogus'] } }, /vm\.backends\[1\]: unknown backend 'bogus'; allowed: user, tap/],
    ['a bad NIC model', { title: 't', tests: [], vm: { backends: ['tap'], nicModel: 'rtl8139' } }, /vm\.nicModel: expected one of virtio-net-pci, e1000, got "rtl8139"/],
    ['a bad timeline action', { title: 't', tests: [], vm: { backends: ['tap'] }, timeline: [{ atMs: 1, action: { kind: 'reboot' } }] }, /timeline\[0\]\.action\.kind: expected one of set_link, netdev_swap, announce_self, qmp, got "reboot"/],
    ['a timeline row the scenario lacks', { title: 't', tests: [], vm: { backends: ['tap'] }, timeline: [{ atMs: 1, rows: ['user/iperf3'], action: { kind: 'netdev_swap' } }] }, /timeline\[0\]\.rows\[0\]: no row 'user\/iperf3' in this scenario; its VM rows: tap\/iperf3/],
    ['a timeline without VM rows', { title: 't', tests: ['txonly'], timeline: [{ atMs: 1, action: { kind: 'netdev_swap' } }] }, /timeline\[0\]: a timeline acts on VM rows/],
    ['no title', { tests: [], vm: { backends: ['tap'] } }, /title: required \(string\)/],
    ['an unknown member', { title: 't', tests: [], vm: { backends: ['tap'] }, durationSeconds: 3 }, /durationSeconds: unknown member/],
    ['a bad host test', { title: 't', tests: ['pingpong'] }, /tests\[0\]: expected one of txonly, rxonly, io, macswap, iperf3, got "pingpong"/],
    ['no rows at all', { title: 't', tests: [] }, /: tests: choose at least one of txonly/],
    ['ifname without peer', { title: 't', tests: ['txonly'], ifname: 'eth9' }, /: peer: --ifname and --peer go together/],
  ];
  for (const [what, content, message] of refused) {
    it(`refuses ${what}: exit 2, the file and the field named`, async () => {
      const f = file(`${what.replace(/\W+/g, '-')}.json`, content);
      const r = await cli(['run', f, '--plan']);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`xdplab run: ${f}: `);
      expect(r.err).toMatch(message);
      expect(r.err).toContain("Run 'xdplab run --help'");
    });
  }

  it('a missing file, bad JSON, a directory, no file or two files: exit 2 saying so', async () => {
    expect(await cli(['run', join(tmp, 'absent.json')])).toMatchObject({ code: 2, err: expect.stringContaining(`${join(tmp, 'absent.json')}: no such file`) });
    expect(await cli(['run', file('bad.json', '{"title": "x",')])).toMatchObject({ code: 2, err: expect.stringMatching(/bad\.json: not valid JSON \(/) });
    expect(await cli(['run', file('array.json', '[]')])).toMatchObject({ code: 2, err: expect.stringContaining('expected a JSON object') });
    expect(await cli(['run', tmp])).toMatchObject({ code: 2, err: expect.stringContaining('is a directory') });
    expect(await cli(['run'])).toMatchObject({ code: 2, err: expect.stringContaining('which scenario file?') });
    expect(await cli(['run', 'a.json', 'b.json'])).toMatchObject({ code: 2, err: expect.stringContaining('one scenario file, got 2') });
    expect(await cli(['run', 'a.json', '--bogus'])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--bogus'") });
  });
});
