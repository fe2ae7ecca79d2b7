// report.html: one self-contained file (Chart.js, its two plugins and the data inlined) that opens
// offline from disk: tables of every row with its spread and of the markers, charts of medians
// with min-max whiskers (chartjs-chart-error-bars), of the samples, and of each row's first trial
// over time with the markers as vertical lines (chartjs-plugin-annotation). Schema 3's rate
// searches, latency and frame-size sweeps are shaped in Node by views.ts (the app's report view
// uses the same module) and inlined as their own JSON: the page only draws them, and needs no
// HDR histogram decoder of its own.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Report } from '../contracts/report.js';
import { goalAnnotations, reportViews, type ReportViews } from './views.js';
import { environmentRows, peerHostRows, type EnvironmentRow } from './environment-rows.js';

const require = createRequire(import.meta.url);

/** Safe inside a <script> element: no `</script` can end it early. */
function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1');
}

const sources = new Map<string, string>();
/** A package's browser (UMD) build, found beside its main entry (UMD builds are not in the exports maps). */
function umdSource(pkg: string, file: string): string {
  let s = sources.get(pkg);
  if (s === undefined) { s = inlineScript(readFileSync(join(dirname(require.resolve(pkg)), file), 'utf8')); sources.set(pkg, s); }
  return s;
}
const chartJsSource = () => umdSource('chart.js', 'chart.umd.min.js');
const errorBarsSource = () => umdSource('chartjs-chart-error-bars', 'index.umd.min.js');
const annotationSource = () => umdSource('chartjs-plugin-annotation', 'chartjs-plugin-annotation.min.js');

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

const RENDER = `
Chart.register(ChartErrorBars.BarWithErrorBarsController, ChartErrorBars.BarWithErrorBar);
if (window['chartjs-plugin-annotation']) Chart.register(window['chartjs-plugin-annotation']);
const report = JSON.parse(document.getElementById('report-data').textContent);
const rows = report.rows.filter(r => r.status === 'ok' || r.status === 'incomplete');
const label = r => (r.backend ? r.backend + ' ' : '') + r.test + ' ' + r.mode + (r.copy ? ' copy' : '') + ' [' + r.tool + ']';
const palette = ['#2563eb','#dc2626','#16a34a','#9333ea','#ea580c','#0891b2','#ca8a04','#db2777','#4b5563','#65a30d'];
function bars(id, metric, scale, unit) {
  const having = rows.filter(r => r.stats[metric]);
  const el = document.getElementById(id);
  if (!having.length) { el.parentElement.style.display = 'none'; return; }
  new Chart(el, { type: 'barWithErrorBars', data: { labels: having.map(label), datasets: [
    { label: 'median ' + unit + ' (whiskers: min–max over trials)', data: having.map(r => ({ y: r.stats[metric].median / scale, yMin: r.stats[metric].min / scale, yMax: r.stats[metric].max / scale })),
      backgroundColor: having.map((_, i) => palette[i % palette.length] + 'b0'), errorBarColor: '#111', errorBarWhiskerColor: '#111', errorBarLineWidth: 2, errorBarWhiskerLineWidth: 2, errorBarWhiskerSize: 16 } ] },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } }, plugins: { title: { display: true, text: unit + ' per row (median, whiskers: min–max over trials)' } } } });
}
bars('chart-pps', 'packetsPerSecond', 1e6, 'Mpps');
bars('chart-bps', 'bitsPerSecond', 1e9, 'Gbps');
const series = {};
for (const s of report.samples) {
  const m = s.metrics.packetsPerSecond !== undefined ? s.metrics.packetsPerSecond / 1e6 : s.metrics.bitsPerSecond / 1e9;
  if (m === undefined || Number.isNaN(m)) continue;
  (series[s.row] ??= []).push({ x: (s.trial * 1e6 + s.tMs) / 1000, y: m });
}
const rowById = Object.fromEntries(report.rows.map(r => [r.id, r]));
const ds = Object.entries(series).map(([id, pts], i) => ({ label: rowById[id] ? label(rowById[id]) : id, data: pts.map((p, k) => ({ x: k, y: p.y })), borderColor: palette[i % palette.length], pointRadius: 1, fill: false }));
const tl = document.getElementById('chart-samples');
if (ds.length) new Chart(tl, { type: 'line', data: { datasets: ds }, options: { animation: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'sample' } }, y: { title: { display: true, text: 'Mpps (packet rows) or Gbps (iperf3 rows)' } } }, plugins: { title: { display: true, text: 'Every sample, in order' } } } });
else tl.parentElement.style.display = 'none';
// Each row's first trial on the trial's time axis, with that trial's markers as vertical lines.
const tc = document.getElementById('chart-timeline');
if (tc) {
  const first = {};
  for (const s of report.samples) first[s.row] = Math.min(first[s.row] ?? Infinity, s.trial);
  for (const m of report.markers || []) first[m.row] ??= m.trial;
  const lines = [];
  Object.keys(first).forEach((id, i) => {
    const mine = report.samples.filter(s => s.row === id && s.trial === first[id]);
    const name = rowById[id] ? (rowById[id].backend ? rowById[id].backend + ' ' : '') + id : id;
    const g = mine.filter(s => s.metrics.bitsPerSecond !== undefined).map(s => ({ x: s.tMs / 1000, y: s.metrics.bitsPerSecond / 1e9 }));
    const p = mine.filter(s => s.metrics.packetsPerSecond !== undefined).map(s => ({ x: s.tMs / 1000, y: s.metrics.packetsPerSecond / 1e6 }));
    if (g.length) lines.push({ label: name + ' Gbps', data: g, yAxisID: 'y', borderColor: palette[i % palette.length], pointRadius: 1, fill: false });
    if (p.length) lines.push({ label: name + ' Mpps', data: p, yAxisID: 'y1', borderColor: palette[i % palette.length], borderDash: [5, 3], pointRadius: 1, fill: false });
  });
  const annotations = {};
  (report.markers || []).filter(m => first[m.row] === m.trial).forEach((m, i) => {
    const c = m.ok === false ? '#dc2626' : m.kind === 'event' ? '#7c3aed' : '#0f766e';
    annotations['m' + i] = { type: 'line', scaleID: 'x', value: m.tMs / 1000, borderColor: c, borderWidth: 2, borderDash: m.kind === 'event' ? [6, 4] : [],
      label: { display: true, content: m.name + (m.ok === false ? ' ✗' : ''), position: i % 2 ? 'end' : 'start', backgroundColor: c, color: '#fff', font: { size: 11 } } };
  });
  tc.dataset.markers = String(Object.keys(annotations).length);
  new Chart(tc, { type: 'line', data: { datasets: lines }, options: { animation: false, parsing: false,
    scales: { x: { type: 'linear', min: 0, title: { display: true, text: "seconds since the trial's measured window began" } }, y: { beginAtZero: true, position: 'left', title: { display: true, text: 'Gbps (solid)' } }, y1: { beginAtZero: true, position: 'right', title: { display: true, text: 'Mpps (dashed)' }, grid: { drawOnChartArea: false } } },
    plugins: { title: { display: true, text: "Each row's first trial over time, with its markers" }, annotation: { annotations } } } });
}
// Schema 3: the views shaped in Node (views.ts), drawn as they are.
const views = JSON.parse(document.getElementById('report-views').textContent);
const PHASES = { max: ['maximum-rate probe', '#64748b', 'triangle'], search: ['search trial', '#2563eb', 'circle'], final: ['final trial', '#111827', 'rectRot'], check: ['constant-rate check', '#dc2626', 'crossRot'] };
views.searches.forEach((v, i) => {
  const el = document.getElementById('chart-search-' + i);
  const sets = Object.entries(PHASES).map(([phase, [name, c, style]]) => ({ label: name, data: v.points.filter(p => p.phase === phase), showLine: false, pointStyle: style, pointRadius: 5, borderColor: c, backgroundColor: c }))
    .filter(d => d.data.length);
  el.dataset.goals = String(v.goals.length);
  new Chart(el, { type: 'line', data: { datasets: sets }, options: { animation: false, parsing: false,
    scales: { x: { type: 'linear', min: 0, title: { display: true, text: 'offered Mpps' } }, y: { type: 'linear', beginAtZero: true, title: { display: true, text: 'loss %' } } },
    plugins: { title: { display: true, text: 'Loss per offered load: ' + v.label }, annotation: { annotations: v.annotations } } } });
});
const ninesText = x => x <= 0 ? '0%' : Number((100 * (1 - 10 ** -x)).toFixed(Math.max(0, Math.ceil(x) - 2))) + '%';
views.latency.forEach((g, i) => {
  const el = document.getElementById('chart-latency-' + i);
  el.dataset.curves = String(g.curves.length);
  new Chart(el, { type: 'line', data: { datasets: g.curves.map((c, k) => ({ label: c.label, data: c.points, borderColor: palette[k % palette.length], backgroundColor: palette[k % palette.length], pointRadius: 0, borderWidth: 2, fill: false })) },
    options: { animation: false, parsing: false,
      scales: { x: { type: 'linear', min: 0, max: g.xMax, title: { display: true, text: 'percentile' }, ticks: { stepSize: 1, callback: v => Number.isInteger(v) ? ninesText(v) : '' } }, y: { beginAtZero: true, title: { display: true, text: 'latency µs' } } },
      plugins: { title: { display: true, text: g.title } } } });
});
views.sweeps.forEach((w, i) => {
  const el = document.getElementById('chart-sweep-' + i);
  new Chart(el, { type: 'bar', data: { labels: w.sizes, datasets: [
      { label: w.measure + ' Mpps', data: w.mpps, yAxisID: 'y', backgroundColor: palette[0] + 'b0', borderColor: palette[0] },
      { label: w.measure + ' Gbps', data: w.gbps, yAxisID: 'y1', backgroundColor: palette[2] + 'b0', borderColor: palette[2] } ] },
    options: { animation: false, scales: { y: { beginAtZero: true, position: 'left', title: { display: true, text: 'Mpps' } }, y1: { beginAtZero: true, position: 'right', title: { display: true, text: 'Gbps' }, grid: { drawOnChartArea: false } } },
      plugins: { title: { display: true, text: 'Per frame size: ' + w.label + ' (' + w.measure + ')' } } } });
});
document.body.dataset.rendered = 'true';
`;

function fmt(v: number | undefined, scale: number, digits = 3): string {
  return v === undefined || Number.isNaN(v) ? '' : (v / scale).toFixed(digits);
}

const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(3));
const us = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** The searches' results table, their loss charts with notes, latency charts and table, sweeps. */
function viewsHtml(v: ReportViews): string {
  const parts: string[] = [];
  if (v.searches.length) {
    const rows = v.searches.flatMap((s) => s.goals.map((g, k) => `<tr class="${g.converged ? '' : 'unconverged'}">${k === 0 ? `<th rowspan="${s.goals.length}">${esc(s.label)}<br><small><code>${esc(s.row)}</code></small></th>` : ''}<td>${esc(g.name.toUpperCase())}</td><td>${esc(g.tolerancePct)}%</td><td>${f3(g.mpps)}</td><td>${f3(g.gbps)}</td><td>${f3(g.lowerMpps)}–${f3(g.upperMpps)}</td><td>${g.converged ? 'yes' : `<b>no</b>${g.note ? `: ${esc(g.note)}` : ''}`}</td>${k === 0 ? `<td rowspan="${s.goals.length}">${s.points.length} (${(s.elapsedMs / 1000).toFixed(0)} s)${s.generatorBound ? '<br><b>generator-bound</b>' : ''}</td>` : ''}</tr>`));
    parts.push(`<h2>Rate searches</h2>
<table id="searches"><thead><tr><th>row</th><th>goal</th><th>loss tolerance</th><th>Mpps</th><th>Gbps</th><th>bounds (Mpps)</th><th>converged</th><th>trials (time)</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
<div class="charts">${v.searches.map((s, i) => `<div><canvas id="chart-search-${i}" class="chart-search"></canvas>${s.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}${s.trials > 1 ? `<p><small>trial ${s.trial + 1} of ${s.trials} shown</small></p>` : ''}</div>`).join('\n')}</div>`);
  }
  if (v.latency.length) {
    const curves = v.latency.flatMap((g) => g.curves);
    parts.push(`<h2>Latency</h2>
<div class="charts">${v.latency.map((_, i) => `<div class="wide"><canvas id="chart-latency-${i}" class="chart-latency"></canvas></div>`).join('\n')}</div>
<table id="latency"><thead><tr><th>row</th><th>load</th><th>frames</th><th>min µs</th><th>p50 µs</th><th>p90 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>max µs</th></tr></thead><tbody>
${curves.map((c) => { const s = c.summary; return `<tr><td><code>${esc(c.row)}</code></td><td>${esc(c.label)}</td><td>${s.count}</td>${[s.minUs, s.p50Us, s.p90Us, s.p99Us, s.p999Us, s.maxUs].map((x) => `<td>${us(x)}</td>`).join('')}</tr>`; }).join('\n')}
</tbody></table>`);
  }
  if (v.sweeps.length) {
    parts.push(`<h2>Frame-size sweeps</h2>
<div class="charts">${v.sweeps.map((_, i) => `<div><canvas id="chart-sweep-${i}" class="chart-sweep"></canvas></div>`).join('\n')}</div>`);
  }
  return parts.join('\n');
}

export function reportHtml(report: Report): string {
  const views = reportViews(report);
  const drawnViews = { ...views, searches: views.searches.map((s) => ({ ...s, annotations: goalAnnotations(s) })) };
  const rowsHtml = report.rows.map((r) => {
    const pps = r.stats.packetsPerSecond;
    const bps = r.stats.bitsPerSecond;
    const drops = r.stats.droppedPackets;
    return `<tr class="${esc(r.status)}"><td>${esc(r.test)}</td><td>${esc(r.tool)}</td><td>${esc(r.mode)}${r.copy ? ' (copy)' : ''}</td><td>${esc(r.backend ?? '')}${r.liveSource ? ` <small>(${esc(r.liveSource)})</small>` : ''}</td>
<td>${esc(r.attached ? `${r.attached.mode}, ${r.attached.zeroCopy ? 'zero-copy' : 'copy'}` : '')}</td><td>${esc(r.frameMix ? `${r.frameMix} (mean ${r.frameBytes ?? '?'})` : r.frameBytes ?? '')}</td>
<td>${pps ? `${fmt(pps.median, 1e6)} <small>(${fmt(pps.min, 1e6)}–${fmt(pps.max, 1e6)})</small>` : ''}</td>
<td>${bps ? `${fmt(bps.median, 1e9)} <small>(${fmt(bps.min, 1e9)}–${fmt(bps.max, 1e9)})</small>` : ''}</td>
<td>${drops ? esc(drops.median) : ''}</td><td>${esc(r.status)}${r.reason ? `: ${esc(r.reason)}` : ''}</td></tr>`;
  }).join('\n');
  const markers = report.markers ?? [];
  const withTimeline = markers.length > 0 || report.rows.some((r) => r.backend);
  const markersHtml = markers.length
    ? `<table id="markers"><thead><tr><th>row</th><th>trial</th><th>at (s)</th><th>kind</th><th>name</th><th>VM</th><th>source</th><th>outcome</th><th>detail</th></tr></thead><tbody>
${markers.map((m) => `<tr class="${m.ok === false ? 'failed' : ''}"><td>${esc(m.row)}</td><td>${m.trial + 1}</td><td>${(m.tMs / 1000).toFixed(2)}</td><td>${esc(m.kind)}</td><td>${esc(m.name)}</td><td>${esc(m.vm ?? '')}</td><td>${esc(m.source)}</td><td>${m.ok === undefined ? '' : m.ok ? 'ok' : 'failed'}</td><td><code>${esc(m.detail ?? '')}</code></td></tr>`).join('\n')}
</tbody></table>`
    : '<p>No markers (QMP commands and events during the trials).</p>';
  const commands = report.rows.flatMap((r) => r.commandLines.map((c) => `<li><b>${esc(r.id)}</b>: <code>${esc(c)}</code></li>`)).join('\n');
  const table = (rows: EnvironmentRow[]) => rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');
  const envRows = table(environmentRows(report.environment));
  const peerHtml = report.peerHost ? `<h2>Peer host ${esc(report.peerHost.host)}</h2>
<table id="peer-host">${table(peerHostRows(report.peerHost))}</table>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xdplab report ${esc(report.id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 1.5rem; max-width: 1200px; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #8884; padding: .25rem .5rem; text-align: left; vertical-align: top; }
tr.failed td, tr.unavailable td { color: #b91c1c; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.charts div.wide { grid-column: 1 / 3; }
code { font-size: .85em; }
.status-incomplete, .status-failed { color: #b91c1c; font-weight: bold; }
tr.unconverged td, p.note { color: #b45309; }
</style></head>
<body>
<h1>xdplab report</h1>
<p>Run <b>${esc(report.id)}</b>, ${esc(report.createdAt)} — status <span class="status-${esc(report.status)}">${esc(report.status)}</span>${report.failure ? `: ${esc(report.failure)}` : ''}</p>
<p><code>${esc(report.command.join(' '))}</code></p>
<h2>Results</h2>
<table id="results"><thead><tr><th>test</th><th>tool</th><th>mode</th><th>backend (live source)</th><th>attached</th><th>frame bytes</th><th>Mpps median (min–max)</th><th>Gbps median (min–max)</th><th>drops</th><th>status</th></tr></thead>
<tbody>
${rowsHtml}
</tbody></table>
<div class="charts">
<div><canvas id="chart-pps"></canvas></div>
<div><canvas id="chart-bps"></canvas></div>
<div class="wide"><canvas id="chart-samples"></canvas></div>
${withTimeline ? '<div class="wide"><canvas id="chart-timeline"></canvas></div>' : ''}
</div>
${viewsHtml(views)}
<h2>Markers</h2>
${markersHtml}
<h2>Environment</h2>
<table id="environment">${envRows}</table>
${peerHtml}
<h2>Command lines</h2>
<ul>${commands}</ul>
<script id="report-data" type="application/json">${scriptJson(report)}</script>
<script id="report-views" type="application/json">${scriptJson(drawnViews)}</script>
<script>${chartJsSource()}</script>
<script>${errorBarsSource()}</script>
<script>${annotationSource()}</script>
<script>${RENDER}</script>
</body></html>
`;
}
