// The NDR/PDR search (RFC 2544 throughput; CSIT's MLRsearch in its essentials): the highest
// offered rate whose loss stays within each goal's tolerance, found by bisection with short
// trials while the bounds are wide and a full-length trial to confirm each result.
//
// - One probe at the generator's maximum first: its loss says which goals are generator-bound
//   (the receiver takes all the generator can offer), and what arrived (the forwarding rate) is
//   the first candidate below it.
// - Every trial updates every goal: a rate within a goal's tolerance raises its lower bound, one
//   above it lowers its upper bound. A later trial that contradicts a bound (noise: a pass above
//   a fail) resets the contradicted bound, as MLRsearch does, instead of averaging.
// - A goal whose bounds are within `precision` of each other is confirmed by `confirmTrials`
//   trials at its lower bound for the final duration (MLRsearch's goal duration sum, with no
//   trial allowed to exceed the tolerance); if one loses, the lower bound falls and the search
//   goes on with final-length trials for that goal (short-trial results do not outrank a long
//   one). On a host where the DUT loses now and then at any rate, more confirmations push the
//   NDR down to a rate that N full-length trials in a row hold.
// - A time cap ends the search: goals not confirmed by then say "not converged" with bounds.
//
// Pure: the trials are the caller's (`measure`), so the method is tested against modelled DUTs
// and run unchanged against veth, testpmd or a VM.
import type { Search, SearchGoal, SearchTrial } from '../contracts/report.js';

export interface GoalSpec { name: string; lossTolerance: number }

export interface SearchConfig {
  goals: GoalSpec[];
  /** Relative width (upper - lower) / upper at which a goal has converged (0.005: 0.5%). */
  precision: number;
  shortMs: number;
  finalMs: number;
  maxElapsedMs: number;
  /** The lowest rate worth a trial (below it a goal's lower bound is 0). */
  minPps: number;
  /** Lossless (within tolerance) full-length trials at a lower bound before it stands (default 1). */
  confirmTrials?: number;
}

/** One constant-rate trial: `targetPps` undefined means as fast as the generator goes. */
export type Measure = (targetPps: number | undefined, durationMs: number, phase: SearchTrial['phase']) => Promise<SearchTrial>;

interface GoalState {
  spec: GoalSpec;
  /** Highest passing rate with no failing rate at or below it (0: none). */
  lower: number;
  /** Lowest failing rate above `lower`. */
  upper: number;
  /** `lower` was measured by a final-length trial. */
  lowerIsFinal: boolean;
  /** A final-length trial refused the short trials' bound: go on with final-length trials. */
  longTrials: boolean;
  /** Without a passing rate: how far below the upper bound the next trial goes (doubles). */
  step: number;
  done: boolean;
  note?: string;
  /** Trials in a row that left this goal's bounds as they were. */
  stuck: number;
}

const passes = (t: SearchTrial, g: GoalState) => t.lossRatio <= g.spec.lossTolerance;

/** Relative width of a goal's bounds. */
export function widthOf(lower: number, upper: number): number {
  return upper > 0 ? (upper - lower) / upper : 0;
}

/** Every trial so far as (rate offered, passed?) per goal: contradicted bounds are rebuilt from it. */
type History = Array<{ rate: number; t: SearchTrial; final: boolean }>;

/**
 * Full-length trials within a goal's tolerance at its lower bound (to the precision) and below
 * its upper one: a loss at or under the lower bound would have moved it, so these stand for it.
 */
function confirmations(g: GoalState, history: History, precision: number): number {
  return history.filter((h) => h.final && passes(h.t, g) && h.rate >= g.lower * (1 - precision) && h.rate < g.upper).length;
}

/** Lossless (within `g`'s tolerance) full-length trials at `rate`, to the precision. */
function heldAt(g: GoalState, rate: number, history: History, precision: number): number {
  return history.filter((h) => h.final && passes(h.t, g) && Math.abs(h.rate - rate) <= rate * precision).length;
}

interface Rules { maxPps: number; need: number; precision: number }

function update(g: GoalState, rate: number, t: SearchTrial, final: boolean, rules: Rules, history: History): void {
  const { maxPps, need, precision } = rules;
  if (passes(t, g)) {
    if (rate >= g.lower) { g.lowerIsFinal = final || (rate === g.lower && g.lowerIsFinal); g.lower = rate; }
    // A pass at or above the upper bound contradicts it (noise): the upper bound becomes the
    // lowest failing rate above the new lower one, or the maximum's (which failed) if that is
    // above it. A paced trial may pass above the unpaced probe that lost: then, with no loss
    // above, the next trials look just above the lower bound (never an upper below the lower).
    if (g.lower >= g.upper) {
      const failedAbove = history.filter((h) => !passes(h.t, g) && h.rate > g.lower).map((h) => h.rate);
      g.upper = Math.min(maxPps > g.lower ? maxPps : Infinity, ...failedAbove);
      if (!Number.isFinite(g.upper)) g.upper = g.lower * (1 + 2 * precision);
    }
  } else {
    if (rate < g.upper) g.upper = rate;
    // A loss at or below the lower bound contradicts it: the lower bound becomes the highest
    // passing rate below the loss, or none. With N confirmations asked for, only a rate that N
    // full-length trials held qualifies: a single pass beside a loss is not evidence enough.
    if (g.upper <= g.lower) {
      const below = history.filter((h) => passes(h.t, g) && h.rate < g.upper && (need <= 1 || heldAt(g, h.rate, history, precision) >= need)).map((h) => h.rate);
      g.lower = below.length ? Math.max(...below) : 0;
      g.lowerIsFinal = need > 1 && below.length > 0;
      // The step down keeps widening (MLRsearch's expansion): a DUT that loses now and then at
      // many rates is left in steps that double, not in a 1% crawl.
    }
    if (final) g.longTrials = true;
  }
}

/** The next rate for a goal: bisection between its bounds, or a widening step down from above. */
function nextRate(g: GoalState, mrr: number, cfg: SearchConfig): number {
  if (g.lower > 0) return (g.lower + g.upper) / 2;
  // No pass yet: first the forwarding rate measured at the maximum (less the tolerance), then
  // steps down from the upper bound that double each time (MLRsearch's expansion).
  const guess = mrr * (1 - g.spec.lossTolerance);
  if (g.step === 0 && guess < g.upper * (1 - cfg.precision)) { g.step = Math.max(2 * cfg.precision, 0.01); return Math.max(cfg.minPps, guess); }
  if (g.step === 0) g.step = Math.max(2 * cfg.precision, 0.01);
  const rate = g.upper * (1 - g.step);
  g.step = Math.min(0.5, g.step * 2);
  return Math.max(cfg.minPps, rate);
}

/** A trial whose generator achieved less than this share of its target "fell short". */
export const SHORTFALL = 0.01;

export async function searchRates(cfg: SearchConfig, measure: Measure, now: () => number = () => performance.now()): Promise<Search> {
  const t0 = now();
  const trials: SearchTrial[] = [];
  // Every bound is the rate a trial *offered* (what the generator achieved), never the target
  // it was given. A generator on a shared host may run a few percent under its targets: the
  // search then asks for the rate it wants divided by the ratio it has seen (`calibration`), so
  // that what is offered lands where the bisection wants it.
  let calibration = 1;
  const history: History = [];
  const run = async (want: number | undefined, final: boolean, phase: SearchTrial['phase']): Promise<{ t: SearchTrial; rate: number }> => {
    const target = want === undefined ? undefined : want / calibration;
    const t = await measure(target, final ? cfg.finalMs : cfg.shortMs, phase);
    trials.push(t);
    if (target !== undefined && t.offeredPps > 0) calibration = Math.min(1, Math.max(0.5, (calibration + t.offeredPps / t.targetPps) / 2));
    const rate = target === undefined ? t.offeredPps : Math.min(t.offeredPps, t.targetPps);
    history.push({ rate, t, final });
    return { t, rate };
  };
  // Goals from the most tolerant down: PDR's trials bound NDR's from above.
  const goals: GoalState[] = [...cfg.goals].sort((a, b) => b.lossTolerance - a.lossTolerance)
    .map((spec) => ({ spec, lower: 0, upper: Infinity, lowerIsFinal: false, longTrials: false, step: 0, done: false, stuck: 0 }));

  const { t: probe } = await run(undefined, false, 'max');
  const mrr = probe.receivedPps;
  let maxPps = probe.offeredPps;
  for (const g of goals) g.upper = maxPps;
  if (goals.some((g) => passes(probe, g))) {
    // The receiver took (within tolerance) all the generator gave: confirm that at full length.
    const { t } = await run(undefined, true, 'final');
    maxPps = Math.max(maxPps, t.offeredPps);
    for (const g of goals) {
      g.upper = maxPps;
      if (passes(probe, g) && passes(t, g)) {
        Object.assign(g, { lower: t.offeredPps, upper: t.offeredPps, lowerIsFinal: true, done: true });
        g.note = `generator-bound at ${(t.offeredPps / 1e6).toFixed(3)} Mpps: the receiver took all the generator offered`;
      }
    }
  }

  const need = Math.max(1, cfg.confirmTrials ?? 1);
  let capped = false;
  for (;;) {
    const g = goals.find((x) => !x.done);
    if (!g) break;
    if (now() - t0 >= cfg.maxElapsedMs) { capped = true; break; }
    if (g.lower === 0 && g.upper <= cfg.minPps * (1 + cfg.precision)) {
      g.done = true;
      g.note = `loses more than ${g.spec.lossTolerance * 100}% even at ${Math.round(cfg.minPps)} pps, the lowest rate tried`;
      continue;
    }
    if (g.stuck >= 4) {
      g.done = true;
      g.note = `stopped: 4 trials in a row did not narrow the bounds (the generator could not offer the rates between them)`;
      continue;
    }
    const before = [g.lower, g.upper, confirmations(g, history, cfg.precision)];
    if (g.lower > 0 && widthOf(g.lower, g.upper) <= cfg.precision) {
      if (g.lowerIsFinal && confirmations(g, history, cfg.precision) >= need) { g.done = true; continue; }
      // Confirm at the final length; a loss there lowers the bound and the search goes on. A
      // pass within the precision of the bound confirms it, at the rate that trial offered (a
      // generator a little short of its target must not leave the short trial's rate standing).
      const { t, rate } = await run(g.lower, true, 'final');
      if (passes(t, g) && rate >= g.lower * (1 - cfg.precision)) { g.lower = Math.min(g.lower, rate); g.lowerIsFinal = true; }
      for (const h of goals) if (!h.done) update(h, rate, t, true, { maxPps, need, precision: cfg.precision }, history);
    } else {
      const { t, rate } = await run(nextRate(g, mrr, cfg), g.longTrials, g.longTrials ? 'final' : 'search');
      for (const h of goals) if (!h.done) update(h, rate, t, g.longTrials, { maxPps, need, precision: cfg.precision }, history);
    }
    // Progress: the bounds moved, or one more full-length trial held the lower one.
    g.stuck = g.lower === before[0] && g.upper === before[1] && confirmations(g, history, cfg.precision) === before[2] ? g.stuck + 1 : 0;
  }

  // A rate within a stricter goal's tolerance is within a looser one's too (a goal finished
  // early may not have seen the stricter goal's later passes).
  for (const g of goals) for (const h of goals) {
    if (h.spec.lossTolerance < g.spec.lossTolerance && h.lower > g.lower) { g.lower = h.lower; if (g.upper < g.lower) g.upper = h.upper; }
  }
  const elapsedMs = now() - t0;
  const paced = trials.filter((t) => t.phase !== 'max' && t.targetPps > 0);
  const short = paced.filter((t) => t.offeredPps < t.targetPps * (1 - SHORTFALL)).length;
  const results: SearchGoal[] = goals.map((g) => {
    const converged = g.done && !g.note;
    const notes = [g.note, capped && !g.done ? `not converged: the time cap of ${Math.round(cfg.maxElapsedMs / 1000)} s was reached` : undefined,
      short ? `the generator fell more than 1% short of its target in ${short} of ${paced.length} paced trials: every bound is the rate it achieved` : undefined].filter(Boolean);
    return { name: g.spec.name, lossTolerance: g.spec.lossTolerance, lowerPps: g.lower, upperPps: Number.isFinite(g.upper) ? g.upper : maxPps, converged, ...(notes.length ? { note: notes.join('; ') } : {}) };
  });
  // The goals in the order they were asked for.
  results.sort((a, b) => cfg.goals.findIndex((x) => x.name === a.name) - cfg.goals.findIndex((x) => x.name === b.name));
  return { precision: cfg.precision, maxPps, generatorBound: goals.some((g) => g.note?.startsWith('generator-bound')), goals: results, trials, elapsedMs };
}
