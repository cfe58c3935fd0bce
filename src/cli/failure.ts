/** Turns what a command threw into the printed reason and the exit status. */
import { CommanderError } from 'commander';
import { describeFailure, EXIT_OK, EXIT_USAGE } from './errors.js';
import type { Output } from './output.js';

export function reportFailure(out: Output, err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version end through here with status 0; commander printed
    // every other message (unknown option, missing argument...) already.
    return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  const f = describeFailure(err);
  out.error(f.code, f.message);
  return f.exitCode;
}
