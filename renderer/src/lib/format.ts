// Numbers for people: rates in M or G with a fixed precision, and a dash for what is missing
// (NaN and Infinity travel as null over JSON).

export function num(v: number | null | undefined, scale = 1, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? (v / scale).toFixed(digits) : '—';
}

export function mpps(pps: number | null | undefined): string { return num(pps, 1e6, 3); }
export function gbps(bps: number | null | undefined): string { return num(bps, 1e9, 3); }

export function percent(ratio: number | null | undefined, digits = 1): string {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  return `${p > 0 ? '+' : ''}${p.toFixed(digits)}%`;
}

export function when(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function ms(v: number | undefined): string {
  return typeof v === 'number' ? `${(v / 1000).toFixed(1)} s` : '';
}
