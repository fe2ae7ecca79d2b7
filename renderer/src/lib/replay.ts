// Replays a saved run's samples and markers in time: each at its own offset (tMs on the trial's
// axis) divided by the speed, trial after trial as the run measured them, rows of one trial side
// by side (their samples share the axis). Uses setTimeout only, so fake timers drive it in tests.
import type { Marker, Report, Sample } from '../api/types.js';

export const REPLAY_SPEEDS = [1, 4, 16] as const;
export type ReplaySpeed = (typeof REPLAY_SPEEDS)[number];

export type ReplayItem = { atMs: number; sample: Sample } | { atMs: number; marker: Marker };

export interface ReplayHandlers {
  sample(s: Sample): void;
  marker(m: Marker): void;
  /** A new trial begins: the chart starts its axis again. */
  trial?(trial: number): void;
  done?(): void;
}

/**
 * The replay's schedule at 1x: trials one after another (each lasting its last offset, at least
 * one sample interval), the items of each trial at their tMs within it.
 */
export function replaySchedule(report: Pick<Report, 'samples' | 'markers'>): { items: (ReplayItem & { trial: number })[]; totalMs: number } {
  const trials = [...new Set([...report.samples.map((s) => s.trial), ...report.markers.map((m) => m.trial)])].sort((a, b) => a - b);
  const items: (ReplayItem & { trial: number })[] = [];
  let offset = 0;
  for (const t of trials) {
    const samples = report.samples.filter((s) => s.trial === t);
    const markers = report.markers.filter((m) => m.trial === t);
    let end = 0;
    for (const s of samples) { items.push({ trial: t, atMs: offset + s.tMs, sample: s }); end = Math.max(end, s.tMs); }
    for (const m of markers) { items.push({ trial: t, atMs: offset + Math.max(0, m.tMs), marker: m }); end = Math.max(end, m.tMs); }
    offset += end + 1;
  }
  items.sort((a, b) => a.atMs - b.atMs);
  return { items, totalMs: items.at(-1)?.atMs ?? 0 };
}

export class Replay {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private next = 0;
  private startedAt = 0;
  private trial: number | undefined;
  private readonly schedule: ReturnType<typeof replaySchedule>;
  running = false;

  constructor(report: Pick<Report, 'samples' | 'markers'>, readonly speed: ReplaySpeed, private readonly on: ReplayHandlers, private readonly now: () => number = () => Date.now()) {
    this.schedule = replaySchedule(report);
  }

  /** How long the whole replay takes at its speed. */
  get durationMs(): number { return this.schedule.totalMs / this.speed; }

  start(): void {
    this.running = true;
    this.startedAt = this.now();
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (!this.running) return;
    const elapsed = (this.now() - this.startedAt) * this.speed;
    const { items } = this.schedule;
    while (this.next < items.length && items[this.next]!.atMs <= elapsed) {
      const item = items[this.next++]!;
      if (item.trial !== this.trial) { this.trial = item.trial; this.on.trial?.(item.trial); }
      if ('sample' in item) this.on.sample(item.sample); else this.on.marker(item.marker);
    }
    if (this.next >= items.length) { this.running = false; this.timer = undefined; this.on.done?.(); return; }
    const wait = Math.max(0, (items[this.next]!.atMs - elapsed) / this.speed);
    this.timer = setTimeout(() => this.tick(), wait);
  }
}
