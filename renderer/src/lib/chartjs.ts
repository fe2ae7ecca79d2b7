// Chart.js with only what the renderer draws (line and bar charts), and colours that follow the
// page's light or dark theme.
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, LinearScale, CategoryScale, Legend, Title, Tooltip, Filler);

export { Chart };

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#64748b', '#65a30d'];

export function colour(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** The theme's text and grid colours (CSS custom properties of :root). */
export function themeColours(): { text: string; grid: string } {
  if (typeof getComputedStyle !== 'function') return { text: '#444', grid: '#8884' };
  const s = getComputedStyle(document.documentElement);
  return { text: s.getPropertyValue('--fg').trim() || '#444', grid: s.getPropertyValue('--grid').trim() || '#8884' };
}
