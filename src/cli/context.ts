/** The per-command view of a session: parsed global options, output, client. */
import type { Command } from 'commander';
import type { Output } from './output.js';
import type { CliClient, GlobalOptions, Session } from './session.js';

export interface Ctx {
  readonly g: GlobalOptions;
  readonly out: Output;
  readonly session: Session;
  client(): Promise<CliClient>;
}

export function ctxOf(session: Session, cmd: Command): Ctx {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return { g, out: session.output(g), session, client: () => session.client(g) };
}
