// What every page shares, kept while the user moves between pages: the connection, the live
// series, run progress and states, VMs and their QMP events, and the log. Filled by LabApi
// events from the moment the app starts.
import type { CommandResult, EventPayload, LabApi } from '../api/types.js';
import type { ConnectionState } from '../api/ws-client.js';
import { LiveSeriesSet, RunTimeline } from './series.js';

export type PageName = 'lab' | 'runs' | 'live' | 'vms' | 'reports';
export const PAGES: { name: PageName; title: string }[] = [
  { name: 'lab', title: 'Lab' },
  { name: 'runs', title: 'Runs' },
  { name: 'live', title: 'Live' },
  { name: 'vms', title: 'VMs' },
  { name: 'reports', title: 'Reports' },
];

const MAX_LOG = 200;
const MAX_QMP_EVENTS = 200;

export class AppState {
  connection = $state<{ state: ConnectionState; detail?: string }>({ state: 'connecting' });
  page = $state<PageName>('lab');
  /** The report the Reports page opens (set by "open report" elsewhere). */
  reportRunId = $state<string | undefined>(undefined);

  readonly live = new LiveSeriesSet(120);
  /** Bumped whenever `live` changes: the charts redraw on it. */
  liveRevision = $state(0);

  /** Each run's rows on the trial's time axis, with its markers (the Live page's main chart). */
  readonly timelines = new Map<string, RunTimeline>();
  /** Bumped whenever a timeline changes. */
  timelineRevision = $state(0);
  /** Runs that sent samples or markers, in the order they first did (the Live page picks the newest). */
  liveRuns = $state<string[]>([]);
  /** The VMs of each run's current trial (runVms events, or the runVms command's answer). */
  runVms = $state<Record<string, CommandResult<'runVms'>>>({});
  /** Row id -> backend, from the plans of runs started here and the VMs the runs report. */
  rowBackends: Record<string, string> = {};

  progress = $state<Record<string, EventPayload<'runProgress'>>>({});
  runStates = $state<Record<string, EventPayload<'runState'>>>({});
  /** Runs started from this page, newest first. */
  startedRuns = $state<string[]>([]);

  vms = $state<CommandResult<'listVms'>>([]);
  qmpEvents = $state<EventPayload<'qmpEvent'>[]>([]);
  log = $state<EventPayload<'log'>[]>([]);

  constructor(readonly api: LabApi, readonly transport: 'electron' | 'web') {
    api.on('sample', (e) => {
      this.live.add(e); this.liveRevision++;
      this.timeline(e.runId).addSample(e.sample, this.rowBackends[e.sample.row]); this.timelineRevision++;
    });
    api.on('marker', (e) => { this.timeline(e.runId).addMarker(e.marker, this.rowBackends[e.marker.row]); this.timelineRevision++; });
    api.on('runVms', (e) => {
      this.runVms[e.runId] = e;
      const backend = e.vms[0]?.backend;
      if (backend) { this.rowBackends[e.row] = backend; this.timeline(e.runId).setBackend(e.row, backend); this.timelineRevision++; }
    });
    api.on('runProgress', (e) => { this.progress[e.runId] = e; });
    api.on('runState', (e) => { this.runStates[e.runId] = e; });
    api.on('vmState', (e) => {
      const known = this.vms.find((v) => v.vmId === e.vmId);
      if (known) { known.state = e.state; if (e.bootMs !== undefined) known.bootMs = e.bootMs; }
      else void this.refreshVms();
    });
    api.on('qmpEvent', (e) => { this.qmpEvents = [...this.qmpEvents.slice(-(MAX_QMP_EVENTS - 1)), e]; });
    api.on('log', (e) => { this.log = [...this.log.slice(-(MAX_LOG - 1)), e]; });
  }

  timeline(runId: string): RunTimeline {
    let t = this.timelines.get(runId);
    if (!t) { t = new RunTimeline(runId); this.timelines.set(runId, t); this.liveRuns = [...this.liveRuns, runId]; }
    return t;
  }

  async refreshVms(): Promise<void> {
    try { this.vms = await this.api.call('listVms', {}); } catch { /* the page shows call errors where it calls */ }
  }

  openReport(runId: string): void {
    this.reportRunId = runId;
    this.page = 'reports';
  }
}
