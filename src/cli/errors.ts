/**
 * Exit statuses of `mqlite-cli`, which scripts rely on: 0 done, 1 the server
 * (or the transport, or the AOF being checked) reported a failure, 2 the
 * command line was wrong.
 */
import { ClientError } from '../client/types.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A wrong command line: bad option value, missing payload... (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure that is not the server's: a check that found damage, a refused confirmation (exit 1). */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    message: string,
    readonly code = 'FAILED',
  ) {
    super(message);
  }
}

export interface FailureReport {
  exitCode: number;
  code: string;
  message: string;
}

/** What to print and which status to exit with for an error thrown by a command. */
export function describeFailure(err: unknown): FailureReport {
  if (err instanceof UsageError) return { exitCode: EXIT_USAGE, code: 'USAGE', message: err.message };
  if (err instanceof ClientError) return { exitCode: EXIT_FAILURE, code: err.code, message: err.message };
  if (err instanceof CommandFailure) return { exitCode: EXIT_FAILURE, code: err.code, message: err.message };
  const e = err as NodeJS.ErrnoException;
  return { exitCode: EXIT_FAILURE, code: e?.code ?? 'ERROR', message: e instanceof Error ? e.message : String(err) };
}
