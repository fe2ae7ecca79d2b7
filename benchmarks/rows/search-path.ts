// One rate search over a path (a generator, a DUT, a receiver), as every searching row kind runs
// it: the scenario's goals and limits, one constant-rate trial per step, progress, and the
// metrics a search row reports (each goal's rate in pps and bps, the search's size).
import { LabError } from '../contracts/errors.js';
import type { Search } from '../contracts/report.js';
import type { Scenario } from '../contracts/scenario.js';
import type { FrameMix } from '../contracts/traffic.js';
import { searchRates, type GoalSpec } from '../search/rate-search.js';
import { bitsOf, rateTrial, type RatePath } from './rate-trial.js';
import type { TrialContext } from './row-kind.js';

export function searchGoals(s: Scenario): GoalSpec[] {
  return s.search.map((name) => ({ name, lossTolerance: (name === 'ndr' ? s.ndrLoss : s.pdrLoss) / 100 }));
}

export interface SearchedPath { search: Search; metrics: Record<string, number>; commandLines: string[] }

/**
 * Searches `path` with the scenario's goals. `minPps`: the lowest rate worth a trial (a VM
 * under TCG takes far less than veth). The first trial's command lines stand for all of them
 * (only the rate differs: the report's trials have it).
 */
export async function searchPath(ctx: TrialContext, path: RatePath, o: { mix: FrameMix; minPps: number }): Promise<SearchedPath> {
  const s = ctx.scenario;
  const commandLines: string[] = [];
  const unit = o.minPps >= 1000 ? { scale: 1e6, name: 'Mpps', digits: 3 } : { scale: 1e3, name: 'kpps', digits: 1 };
  const search = await searchRates({
    goals: searchGoals(s), precision: s.precision / 100, shortMs: s.searchTrialMs, finalMs: s.durationMs, maxElapsedMs: s.searchMaxMs, minPps: o.minPps,
    confirmTrials: s.searchConfirm,
  }, async (targetPps, durationMs, phase) => {
    if (ctx.stopSignal.stop) throw new LabError({ code: 'ESTOPPED', message: 'the run was stopped' });
    const r = await rateTrial(ctx, path, { targetPps, durationMs, mix: o.mix, flows: s.flows, phase });
    if (!commandLines.length) commandLines.push(...r.commandLines);
    ctx.phase('measure', `${phase} ${(r.trial.offeredPps / unit.scale).toFixed(unit.digits)} ${unit.name}: loss ${(r.trial.lossRatio * 100).toFixed(3)}%`);
    return r.trial;
  });
  const metrics: Record<string, number> = { maxOfferedPacketsPerSecond: search.maxPps, searchTrials: search.trials.length, searchSeconds: search.elapsedMs / 1000 };
  for (const g of search.goals) {
    metrics[`${g.name}PacketsPerSecond`] = g.lowerPps;
    metrics[`${g.name}BitsPerSecond`] = bitsOf(g.lowerPps, o.mix);
  }
  return { search, metrics, commandLines };
}
