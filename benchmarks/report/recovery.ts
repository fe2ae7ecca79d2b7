// What a run that died left behind: its lab's resources (namespaces, links, processes, XDP
// programs, files) and an unfinished report. Swept by `xdplab doctor --cleanup` and at the
// start of every run.
import { cleanupLeftovers } from '../lab/state.js';
import { finishAbandonedReport } from './abandoned.js';

/** Removes dead labs' leftovers and marks their reports incomplete; one line per thing done. */
export function recoverDeadRuns(options: { strayNamespaces?: boolean } = {}): string[] {
  return cleanupLeftovers({
    strayNamespaces: options.strayNamespaces ?? false,
    beforeRemoving: (lab) => {
      if (!lab.reportDir) return [];
      const why = `the engine (pid ${lab.pid}) died before the run finished (killed or crashed)`;
      try {
        return finishAbandonedReport(lab.reportDir, why) ? [`marked the report in ${lab.reportDir} incomplete`] : [];
      } catch (err) {
        return [`marked nothing: the report in ${lab.reportDir} could not be read (${(err as Error).message})`];
      }
    },
  });
}

/** A line of the sweep as a sentence: "removed namespace xl-...", or what was done to a report. */
export const cleanupLine = (l: string): string => (l.startsWith('marked ') ? l : `removed ${l}`);
