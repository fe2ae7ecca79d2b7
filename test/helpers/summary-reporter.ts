// Ends the run with the line CI reads: `N passed, N failed, N skipped`, after listing every
// skipped test with its reason (the suite name carries it) so nothing is skipped silently.
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0, failed = 0, skipped = 0;
    const skippedNames: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === 'passed') passed++;
        else if (r.state === 'failed') failed++;
        else { skipped++; skippedNames.push(`${t.fullName}${r.state === 'skipped' && r.note ? ` (${r.note})` : ''}`); }
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    failed += errors.length;
    if (skippedNames.length) {
      process.stdout.write(`\nSkipped:\n${skippedNames.map((n) => `  - ${n}`).join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
