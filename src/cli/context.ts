/** The per-command view of a session: parsed global options, output, client. */
import type { Command } from 'commander';
import type { Output } from './output.js';
import type { MqliteClient } from '../client/types.js';
import { withFeatures, type CliClient, type GlobalOptions, type Session } from './session.js';

export interface Ctx {
  readonly g: GlobalOptions;
  readonly out: Output;
  readonly session: Session;
  client(): Promise<MqliteClient>;
  /** The client with the issue 8 calls (nack, peek, stats...). */
  features(): Promise<CliClient>;
}

export function ctxOf(session: Session, cmd: Command): Ctx {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return { g, out: session.output(g), session, client: () => session.client(g), features: async () => withFeatures(await session.client(g), g.proto) };
}
