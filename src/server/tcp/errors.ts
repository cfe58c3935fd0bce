/**
 * The TCP front's one error table. A TCP error frame carries a single
 * reason string (docs/PROTOCOL.md, "Errors"), so the broker's error code
 * leads it: `"NOT_FOUND: namespace 'x' not found"`. Clients read the code
 * from that prefix (src/client/tcp does) and people read the rest.
 */
import type { Logger } from 'pino';
import { type ErrorCode, isBrokerError } from '../../broker/errors.js';

/**
 * A request the front cannot run: malformed body, unknown action, missing
 * or mistyped field, unknown encoding. Answered with an error frame; the
 * connection stays usable (docs/PROTOCOL.md, "Extensions on TCP").
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

const LABEL: { readonly [C in ErrorCode]: string } = {
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  UNAVAILABLE: 'UNAVAILABLE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
};

/** A request the front itself rejects (decoding, framing). */
export function badRequestReason(message: string): string {
  return `${LABEL.INVALID_ARGUMENT}: ${message}`;
}

/** The reason string of an error frame; unknown errors are logged and not shown. */
export function errorReason(err: unknown, log: Logger, action: string | undefined): string {
  if (isBrokerError(err)) return `${LABEL[err.code]}: ${err.message}`;
  if (err instanceof CommandError) return badRequestReason(err.message);
  log.error({ err, action }, 'tcp command failed with an unexpected error');
  return 'INTERNAL: internal error';
}
