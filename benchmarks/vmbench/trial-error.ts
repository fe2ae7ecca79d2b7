// A failed trial keeps the command lines it ran (the QEMU ones above all), so that a failed row
// in the report still says exactly what was tried. Code, message and hint are the cause's.
import { LabError } from '../contracts/errors.js';

export class VmTrialError extends LabError {
  constructor(cause: unknown, readonly commandLines: string[]) {
    const e = cause instanceof LabError ? cause : undefined;
    super({
      code: e?.code ?? 'ETRIAL', message: cause instanceof Error ? cause.message : String(cause),
      ...(e?.field ? { field: e.field } : {}), ...(e?.hint ? { hint: e.hint } : {}), cause,
    });
    this.name = 'VmTrialError';
  }
}

/** Command lines a failed trial carried, if any. */
export function commandLinesOf(err: unknown): string[] {
  return err instanceof VmTrialError ? err.commandLines : [];
}
