// A host with reactive props for LiveChart (runes need a .svelte.ts module): pushes points into
// named series and bumps the revision, as the Live page does.
import { mount, unmount } from 'svelte';
import LiveChart from '../../renderer/src/components/LiveChart.svelte';
import type { ChartSeries } from '../../renderer/src/lib/series.js';

export function mountLive(target: HTMLElement, maxPoints: number) {
  const props = $state({ title: 'Packets per second', unit: 'Mpps', series: [] as ChartSeries[], revision: 0, maxPoints });
  const component = mount(LiveChart, { target, props });
  const counters = new Map<string, number>();
  return {
    push(label: string, n: number) {
      let s = props.series.find((x) => x.label === label);
      if (!s) { props.series = [...props.series, { key: label, label, points: [] }]; s = props.series[props.series.length - 1]!; }
      const from = counters.get(label) ?? 0;
      for (let i = 0; i < n; i++) s.points.push({ x: from + i, y: from + i });
      counters.set(label, from + n);
      props.revision++;
    },
    drop(label: string) {
      props.series = props.series.filter((s) => s.label !== label);
      props.revision++;
    },
    destroy() { unmount(component); },
  };
}
