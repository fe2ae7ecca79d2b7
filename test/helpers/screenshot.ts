// Screenshots kept as test artifacts (test-artifacts/), each checked to show a drawn page: many
// colours, and a real share of pixels that differ from the background.
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { artifactPath } from './browser.js';

/** Distinct colours (sampled) and the share of pixels that differ from the most common one. */
export async function inkOf(browser: Browser, png: Buffer): Promise<{ colours: number; inked: number }> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const counts = new Map<number, number>();
      for (let i = 0; i < d.length; i += 16) { const k = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!; counts.set(k, (counts.get(k) ?? 0) + 1); }
      const total = d.length / 16;
      const top = Math.max(...counts.values());
      return { colours: counts.size, inked: (total - top) / total };
    }, png.toString('base64'));
  } finally { await page.close(); }
}

/** Saves test-artifacts/<name> (full page) and checks it is not blank. */
export async function screenshot(browser: Browser, page: Page, name: string): Promise<string> {
  const path = artifactPath(name);
  const png = await page.screenshot({ path, fullPage: true });
  const ink = await inkOf(browser, png);
  expect(ink.colours, `${name} has too few colours to be a drawn page`).toBeGreaterThan(8);
  expect(ink.inked, `${name} is almost one colour`).toBeGreaterThan(0.01);
  return path;
}
