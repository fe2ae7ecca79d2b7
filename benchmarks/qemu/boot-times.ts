// The measured boot time of xdplab's guest, per QEMU binary: every VM that reaches userspace
// (readiness marker seen and agent answering, qemu/vm.ts) adds its boot to a small cache in the
// lab's state dir, and a run's plan estimates its VM boots from it instead of an assumed figure.
// A binary is known by its real path, size and mtime (a rebuilt or upgraded QEMU starts afresh),
// and by the accelerator it ran with (TCG and KVM boots differ tenfold).
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { labCacheDir } from '../lab/state.js';

/** Boots kept per binary: the estimate is the median of the latest ones. */
export const BOOTS_KEPT = 9;

const EntrySchema = z.object({
  path: z.string(), size: z.number(), mtimeMs: z.number(), accel: z.string(),
  bootsMs: z.array(z.number().nonnegative()).max(BOOTS_KEPT), updatedAt: z.string(),
});
const CacheSchema = z.object({ version: z.literal(1), binaries: z.record(z.string(), EntrySchema) });
type Cache = z.infer<typeof CacheSchema>;

export interface MeasuredBoot {
  /** Median of the kept boots, ms. */
  bootMs: number;
  boots: number;
  accel: string;
  path: string;
}

export function bootTimesFile(stateDir?: string): string {
  return join(labCacheDir(stateDir), 'boot-times.json');
}

function identity(binary: string): { path: string; size: number; mtimeMs: number } {
  const path = realpathSync(binary);
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: Math.round(st.mtimeMs) };
}

function load(file: string): Cache {
  try {
    const parsed = CacheSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) return parsed.data;
  } catch { /* none yet, or torn: start afresh */ }
  return { version: 1, binaries: {} };
}

/** Adds one boot of `binary` (a VM that reached userspace) to the cache; never throws. */
export function recordBoot(binary: string, accel: string, bootMs: number, stateDir?: string): void {
  try {
    if (!(bootMs > 0) || !Number.isFinite(bootMs)) return;
    const id = identity(binary);
    const file = bootTimesFile(stateDir);
    const cache = load(file);
    const known = cache.binaries[id.path];
    const same = known && known.size === id.size && known.mtimeMs === id.mtimeMs && known.accel === accel;
    cache.binaries[id.path] = { ...id, accel, bootsMs: [...(same ? known.bootsMs : []), Math.round(bootMs)].slice(-BOOTS_KEPT), updatedAt: new Date().toISOString() };
    mkdirSync(labCacheDir(stateDir), { recursive: true });
    // Whole or not at all: another run may read it at any moment.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(cache, null, 1)}\n`);
    renameSync(tmp, file);
  } catch { /* a cache: a boot not recorded only makes the estimate an assumption */ }
}

/** The measured boot of `binary` as it is now (same size and mtime), if any VM of it booted here. */
export function measuredBoot(binary: string, stateDir?: string): MeasuredBoot | undefined {
  let id: ReturnType<typeof identity>;
  try { id = identity(binary); } catch { return undefined; }
  const e = load(bootTimesFile(stateDir)).binaries[id.path];
  if (!e || e.size !== id.size || e.mtimeMs !== id.mtimeMs || !e.bootsMs.length) return undefined;
  const sorted = [...e.bootsMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const bootMs = sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
  return { bootMs, boots: sorted.length, accel: e.accel, path: id.path };
}
