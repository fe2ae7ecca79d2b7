// report.html: one self-contained file (Chart.js, its two plugins and the data inlined) that opens
// offline from disk: tables of every row with its spread and of the markers, charts of medians
// with min-max whiskers (chartjs-chart-error-bars), of the samples, and of each row's first trial
// over time with the markers as vertical lines (chartjs-plugin-annotation).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Report } from '../contracts/report.js';

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
document.body.dataset.rendered = 'true';
`;

function fmt(v: number | undefined, scale: number, digits = 3): string {
  return v === undefined || Number.isNaN(v) ? '' : (v / scale).toFixed(digits);
}

export function reportHtml(report: Report): string {
  const env = report.environment;
  const rowsHtml = report.rows.map((r) => {
    const pps = r.stats.packetsPerSecond;
    const bps = r.stats.bitsPerSecond;
    const drops = r.stats.droppedPackets;
    return `<tr class="${esc(r.status)}"><td>${esc(r.test)}</td><td>${esc(r.tool)}</td><td>${esc(r.mode)}${r.copy ? ' (copy)' : ''}</td><td>${esc(r.backend ?? '')}${r.liveSource ? ` <small>(${esc(r.liveSource)})</small>` : ''}</td>
<td>${esc(r.attached ? `${r.attached.mode}, ${r.attached.zeroCopy ? 'zero-copy' : 'copy'}` : '')}</td><td>${esc(r.frameBytes ?? '')}</td>
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
  const envRows = [
    ['host', env.hostname], ['kernel', env.kernel], ['CPU', `${env.cpuModel} (${env.cores} cores)`],
    ['memory', `${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB`], ['node', env.node],
    ['xdplab', `${env.xdplab.version} (${env.xdplab.gitCommit})`],
    ...Object.entries(env.tools), ...env.interfaces.map((i) => [`interface ${i.name}`, `${i.driver}${i.netns ? ` in ${i.netns}` : ''}`]),
  ].map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');
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
<h2>Markers</h2>
${markersHtml}
<h2>Environment</h2>
<table id="environment">${envRows}</table>
<h2>Command lines</h2>
<ul>${commands}</ul>
<script id="report-data" type="application/json">${scriptJson(report)}</script>
<script>${chartJsSource()}</script>
<script>${errorBarsSource()}</script>
<script>${annotationSource()}</script>
<script>${RENDER}</script>
</body></html>
`;
}
