// Markers (QMP commands sent and events received during a trial) as chartjs-plugin-annotation
// vertical lines: one line per marker at its tMs (seconds on the chart's x axis), labelled with
// the command or event name; commands QEMU refused in another colour. Pure: the charts and the
// tests build the same config.
import type { Marker } from '../api/types.js';

export const MARKER_COLOURS = { command: '#0f766e', event: '#7c3aed', failed: '#dc2626' } as const;

export interface LineAnnotation {
  type: 'line';
  scaleID: 'x';
  value: number;
  borderColor: string;
  borderWidth: number;
  borderDash?: number[];
  label: {
    display: boolean;
    content: string;
    position: 'start' | 'end';
    backgroundColor: string;
    color: string;
    font: { size: number };
    /** Pixels down (start) or up (end): each row's labels on their own band. */
    yAdjust: number;
  };
}

export function markerColour(m: Pick<Marker, 'kind' | 'ok'>): string {
  return m.ok === false ? MARKER_COLOURS.failed : m.kind === 'event' ? MARKER_COLOURS.event : MARKER_COLOURS.command;
}

/** What a marker's label says: the name, the VM when there are several, and a refusal. */
export function markerText(m: Pick<Marker, 'name' | 'vm' | 'ok' | 'detail'>, withVm = false): string {
  return `${m.name}${withVm && m.vm ? ` (${m.vm})` : ''}${m.ok === false ? ' ✗' : ''}`;
}

/**
 * The annotation plugin's `annotations` record for these markers: key `m<i>` per marker, a
 * vertical line at tMs / 1000 seconds. A row's labels alternate top and bottom, and each row's
 * sit on their own band, so close markers (rows overlaid share the axis) stay readable; `fontSize` grows for the presenter view; `rowLabel` names the row (its backend) when
 * several rows share the axis.
 */
export function markerAnnotations(markers: readonly Marker[], opts: { fontSize?: number; withVm?: boolean; rowLabel?: (row: string) => string | undefined } = {}): Record<string, LineAnnotation> {
  const out: Record<string, LineAnnotation> = {};
  const rows = [...new Set(markers.map((m) => m.row))];
  const nth = new Map<string, number>();
  const size = opts.fontSize ?? 11;
  markers.forEach((m, i) => {
    const colour = markerColour(m);
    const k = nth.get(m.row) ?? 0;
    nth.set(m.row, k + 1);
    const band = rows.indexOf(m.row) * (size + 14);
    out[`m${i}`] = {
      type: 'line', scaleID: 'x', value: m.tMs / 1000, borderColor: colour, borderWidth: m.ok === false ? 3 : 2,
      ...(m.kind === 'event' ? { borderDash: [6, 4] } : {}),
      label: { display: true, content: `${opts.rowLabel?.(m.row) ? `${opts.rowLabel(m.row)}: ` : ''}${markerText(m, opts.withVm)}`, position: k % 2 ? 'end' : 'start', yAdjust: k % 2 ? -band : band, backgroundColor: colour, color: '#fff', font: { size } },
    };
  });
  return out;
}
