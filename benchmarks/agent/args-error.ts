// A request's bad arguments as a LabError: the field as its path in the args, the message
// naming the command too ("netns.create: suffix: must be ...").
import type { z } from 'zod';
import { LabError, schemaError } from '../contracts/errors.js';

export function argsError(command: string, issues: z.core.$ZodIssue[], args: unknown): LabError {
  const e = schemaError(issues, args);
  return new LabError({ code: e.code, message: `${command}: ${e.message}`, ...(e.field ? { field: e.field } : {}), ...(e.hint ? { hint: e.hint } : {}) });
}
