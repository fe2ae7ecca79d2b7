// --rate for the rows whose xdplab generator it paces (txonly on the DUT, the peer's generator of
// the receiving rows): packets per second as given, or a percentage of that generator's own
// unpaced maximum, probed once per run and cell (a short unpaced run of the same worker).
import { LabError } from '../contracts/errors.js';
import type { WorkerSpecInput } from '../contracts/worker.js';
import type { TrialContext } from './row-kind.js';
import { launch } from './trial-tools.js';

const PROBE_SECONDS = 1;

/** The target packets per second for a generator started with `spec`, or undefined (unpaced). */
export async function offeredRate(ctx: TrialContext, spec: WorkerSpecInput): Promise<number | undefined> {
  const rate = ctx.scenario.rate;
  if (rate === undefined) return undefined;
  if (typeof rate === 'number') return rate;
  const percent = Number(rate.slice(0, -1));
  if (!(percent > 0 && percent <= 100)) throw new LabError({ code: 'EINVALIDOPTION', field: 'rate', message: `--rate: a percentage must be in (0, 100], got ${rate}` });
  const max = await ctx.once(`max-rate:${spec.netns ?? ''}/${spec.ifname}/${spec.frameBytes ?? 64}/${spec.mode ?? 'native'}`, async () => {
    const w = await launch(ctx, { ...spec, seconds: PROBE_SECONDS, warmupMs: 200, sampleMs: 0 });
    const r = await w.done;
    if (!r.ok) throw new LabError(r.error);
    if (!(r.packets > 0)) throw new LabError({ code: 'ENOTRAFFIC', message: `--rate ${rate}: the generator's unpaced probe sent nothing` });
    return r.packets / r.seconds;
  });
  return (max * percent) / 100;
}
