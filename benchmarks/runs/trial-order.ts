// The order a run's trials go in: row by row (every trial of a row, then the next row), or
// interleaved, trial-major (trial 0 of every row, then trial 1 of every row: A B A B), so rows
// that are compared with each other see the same phases of a machine that drifts.
export function trialSteps<R>(rows: readonly R[], trials: number, interleave: boolean): Array<{ row: R; trial: number }> {
  const each = Array.from({ length: trials }, (_, trial) => trial);
  return interleave
    ? each.flatMap((trial) => rows.map((row) => ({ row, trial })))
    : rows.flatMap((row) => each.map((trial) => ({ row, trial })));
}
