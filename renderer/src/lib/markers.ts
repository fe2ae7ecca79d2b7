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
    rotation?: number;
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
 * vertical line at tMs / 1000 seconds. Labels alternate top and bottom so close markers stay
 * readable; `fontSize` grows for the presenter view; `rowLabel` names the row (its backend) when
 * several rows share the axis.
 */
export function markerAnnotations(markers: readonly Marker[], opts: { fontSize?: number; withVm?: boolean; rowLabel?: (row: string) => string | undefined } = {}): Record<string, LineAnnotation> {
  const out: Record<string, LineAnnotation> = {};
  markers.forEach((m, i) => {
    const colour = markerColour(m);
    out[`m${i}`] = {
      type: 'line', scaleID: 'x', value: m.tMs / 1000, borderColor: colour, borderWidth: m.ok === false ? 3 : 2,
      ...(m.kind === 'event' ? { borderDash: [6, 4] } : {}),
      label: { display: true, content: `${opts.rowLabel?.(m.row) ? `${opts.rowLabel(m.row)}: ` : ''}${markerText(m, opts.withVm)}`, position: i % 2 ? 'end' : 'start', backgroundColor: colour, color: '#fff', font: { size: opts.fontSize ?? 11 } },
    };
  });
  return out;
}
