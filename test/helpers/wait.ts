// Waiting on a condition, not on time: poll until it holds, or fail after a generous deadline
// saying what was awaited (and, if given, what was seen last).
export async function until(what: string, cond: () => boolean | Promise<boolean>, options: { timeoutMs?: number; seen?: () => string } = {}): Promise<void> {
  const end = Date.now() + (options.timeoutMs ?? 30000);
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${options.timeoutMs ?? 30000} ms waiting for ${what}${options.seen ? `; last seen: ${options.seen()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
