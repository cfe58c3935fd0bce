/**
 * The actions of the TCP front (docs/PROTOCOL.md, "TCP framing"): every
 * command of the command table under its own name, `subscribe`, which this
 * front streams on the connection, and `auth`, the connection's first
 * command when the broker has API keys (docs/PROTOCOL.md, "Authentication:
 * the first frame"). Both encodings decode into the same requests, by the
 * same table entries.
 */
import { AuthRequestSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { AnyCommand, Decoded, RequestSpec } from '../commands/command.js';
import { COMMANDS, subscribe } from '../commands/table.js';
import type { TcpAction } from '../../protocol/tcp-actions.js';

/** `auth`: TCP only; its key is the connection's, not a command's (no access of its own). */
export const AUTH = {
  name: 'auth',
  request: AuthRequestSchema,
  required: ['api_key'],
  input: (req: { readonly apiKey: string }) => req,
} as const satisfies RequestSpec & { name: string; input: unknown };

export type TcpOp = AnyCommand | Decoded | typeof AUTH;

// Every action has an entry, and every command of the table is an action.
const OPS: { readonly [A in TcpAction]: TcpOp } = { ...COMMANDS, subscribe: subscribe as Decoded, auth: AUTH };
const commandsAreActions: Exclude<keyof typeof COMMANDS, TcpAction> extends never ? true : false = true;
void commandsAreActions;

/** The entry of a TCP action, if it is one. */
export function opOfAction(action: string): TcpOp | undefined {
  return Object.hasOwn(OPS, action) ? OPS[action as TcpAction] : undefined;
}

/** A command that answers with data (not subscribe or auth). */
export function isCommand(op: TcpOp): op is AnyCommand {
  return 'run' in op;
}
