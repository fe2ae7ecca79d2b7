// A failed LabApi call as the renderer sees it: the engine's LabError (code, message naming the
// field, hint), whichever transport carried it.
import type { LabErrorJson } from './types.js';

export class LabClientError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly hint?: string;

  constructor(e: LabErrorJson) {
    super(e.message);
    this.name = 'LabClientError';
    this.code = e.code;
    if (e.field !== undefined) this.field = e.field;
    if (e.hint !== undefined) this.hint = e.hint;
  }

  /** Anything a transport rejected with, as a LabClientError. */
  static from(err: unknown): LabClientError {
    if (err instanceof LabClientError) return err;
    if (err && typeof err === 'object' && typeof (err as LabErrorJson).code === 'string' && typeof (err as LabErrorJson).message === 'string') {
      return new LabClientError(err as LabErrorJson);
    }
    return new LabClientError({ code: 'EUNKNOWN', message: err instanceof Error ? err.message : String(err) });
  }
}

/** One line for people: the message, then what to do. */
export function errorText(err: unknown): string {
  const e = LabClientError.from(err);
  return e.hint ? `${e.message} (${e.hint})` : e.message;
}
