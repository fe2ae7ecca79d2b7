// Where a command writes: the process's stdout/stderr, or a test's buffers.
export interface Io { out(text: string): void; err(text: string): void }

export const stdio: Io = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

/** Bad usage: the CLI prints it with a pointer to the command's --help and exits 2. */
export class UsageError extends Error {}
