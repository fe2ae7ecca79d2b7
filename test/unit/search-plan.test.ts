// --search, --latency, --imix and --rate without root: the rows they plan (ids, order, the
// latency rows' load), the flags' text, and the errors that name the flag and what it allows.
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../benchmarks/cli/commands/bench.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { resolveScenario } from '../../benchmarks/contracts/scenario.js';
import { IMIX, imixCycle, meanFrameBytes } from '../../benchmarks/contracts/traffic.js';
import { planRows } from '../../benchmarks/rows/registry.js';

const errorOf = (f: () => unknown): LabError => {
  try { f(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
};

describe('rate searches in the run model', () => {
  it('plans one search row per receiving cell and tool, and latency rows at idle, 10, 50 and 90% of its PDR', async () => {
    const s = resolveScenario({ tests: ['rxonly', 'io'], modes: ['native'], reference: ['testpmd'], search: ['ndr', 'pdr'], latency: true, imix: true });
    const rows = await planRows(s);
    const search = rows.filter((r) => r.id.startsWith('search-')).map((r) => r.id);
    expect(search).toEqual([
      'search-rxonly-native-64B', 'search-rxonly-native-64B-testpmd', 'search-rxonly-native-imix', 'search-rxonly-native-imix-testpmd',
      'search-io-native-64B', 'search-io-native-64B-testpmd', 'search-io-native-imix', 'search-io-native-imix-testpmd',
    ]);
    const lat = rows.filter((r) => r.id.startsWith('latency-'));
    // testpmd's rxonly only counts: no stamps read, no latency rows.
    expect(lat.some((r) => r.id.includes('rxonly') && r.id.includes('testpmd'))).toBe(false);
    expect(lat.filter((r) => r.load?.ofRow === 'search-io-native-64B').map((r) => [r.id, r.load!.fraction])).toEqual([
      ['latency-io-native-64B-idle', 0], ['latency-io-native-64B-10pct', 0.1], ['latency-io-native-64B-50pct', 0.5], ['latency-io-native-64B-90pct', 0.9],
    ]);
    // A latency row runs after the search it depends on.
    const at = (id: string) => rows.findIndex((r) => r.id === id);
    expect(at('latency-io-native-64B-idle')).toBeGreaterThan(at('search-io-native-64B'));
    const imix = rows.find((r) => r.id === 'search-io-native-imix')!;
    expect(imix.frameMix).toBe('imix');
    expect(imix.frameBytes).toBe(Math.round(meanFrameBytes('imix')));
    expect(rows.find((r) => r.id === 'search-io-native-64B')!.needs).toBe('forward');
    expect(rows.find((r) => r.id === 'search-rxonly-native-64B')!.needs).toBe('packet');
  });

  it('IMIX is 7:4:1 of 64, 570 and 1518 bytes, interleaved', () => {
    const c = imixCycle();
    expect(c).toHaveLength(12);
    for (const [i, size] of IMIX.sizes.entries()) expect(c.filter((x) => x === size)).toHaveLength(IMIX.weights[i]!);
    // Never four small frames in a row: the large ones are spread through the cycle.
    expect(c.join(',')).not.toMatch(/64,64,64,64/);
    expect(meanFrameBytes('imix')).toBeCloseTo((7 * 64 + 4 * 570 + 1518) / 12, 6);
  });

  it('takes its flags as text: percentages stay exact, rates take pps or a percentage', () => {
    const a = parseBenchArgs(['--search', 'ndr,pdr', '--pdr-loss', '0.5', '--precision', '0.25', '--search-trial', '0.5', '--rate', '50%', '--imix'], {});
    expect(a.scenario).toEqual({ search: ['ndr', 'pdr'], pdrLoss: 0.5, precision: 0.25, searchTrialMs: 500, rate: '50%', imix: true });
    expect(parseBenchArgs(['--rate', '250000'], {}).scenario).toEqual({ rate: 250000 });
    expect(resolveScenario({ rate: '12.5%' }).rate).toBe('12.5%');
  });

  it('refuses bad values with the flag and what it allows', () => {
    expect(errorOf(() => resolveScenario({ search: ['mlr'] })).message).toBe('--search: expected one of ndr, pdr, got "mlr"');
    expect(errorOf(() => resolveScenario({ search: ['pdr'], pdrLoss: 100 })).field).toBe('--pdr-loss');
    expect(errorOf(() => resolveScenario({ search: ['pdr'], pdrLoss: -1 })).field).toBe('--pdr-loss');
    expect(errorOf(() => resolveScenario({ rate: '150%' })).message).toMatch(/--rate: .*\(0%, 100%\]/);
    expect(errorOf(() => resolveScenario({ rate: 'fast' })).field).toBe('--rate');
    expect(errorOf(() => resolveScenario({ rate: 0.1, durationMs: 1000 })).message).toBe('--rate: 0.1 pps is less than one frame in a 1 s trial');
    expect(errorOf(() => resolveScenario({ rate: 2e9 })).field).toBe('--rate');
    expect(errorOf(() => resolveScenario({ latency: true, search: ['ndr'] })).message).toMatch(/--latency: latency rows run at fractions of the PDR/);
    expect(errorOf(() => resolveScenario({ tests: ['txonly'], search: ['ndr'] })).message).toMatch(/--search: searches run for the receiving rows/);
    expect(resolveScenario({ tests: [], search: ['ndr'], vm: { backends: ['tap'], pvp: true } }).vm?.pvp).toBe(true);
  });
});
