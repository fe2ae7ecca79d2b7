import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
// Where a command writes: the process's stdout/stderr, or a test's buffers.
export interface Io { out(text: string): void; err(text: string): void }

export const stdio: Io = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

/** Bad usage: the CLI prints it with a pointer to the command's --help and exits 2. */
export class UsageError extends Error {}

/** node:util parseArgs for a command's flags; a bad flag becomes a UsageError naming the command. */
export function parseFlags<const O extends ParseArgsOptionsConfig>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, strict: true as const, allowPositionals: false as const, options }).values;
  } catch (err) {
    // parseArgs names the offending flag or argument; keep its words.
    throw new UsageError(`xdplab ${command}: ${(err as Error).message}`);
  }
}
