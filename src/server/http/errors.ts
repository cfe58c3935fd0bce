/**
 * The HTTP front's one error table (STYLE.md: "each front maps it in one
 * table"), with the statuses of docs/PROTOCOL.md, "Status codes": 400 bad input, 404
 * unknown namespace/topic/queue, 409 already exists or conflicting state,
 * 401 no or wrong API key, 403 key out of scope,
 * 413 body too large, 429 limits, 503 shutting down or persistence failed.
 */
import { BrokerError, type ErrorCode } from '../../broker/errors.js';
import { FieldError } from '../commands/json-decode.js';

/** A failure found by the front itself, before the broker is called. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);

const statusOfCode: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
};

/** A field of the request that does not fit: `field "x" is required (a string)`, `entries[0]: field "delay_ms" must be an integer`. */
export function fieldErrorText(e: FieldError): string {
  const at = e.parent !== undefined ? `${e.parent}: ` : '';
  if (e.field === undefined) return `${at}must be ${e.expected}`;
  if (e.problem === 'missing') return `${at}field "${e.field}" is required (${e.expected})`;
  if (e.problem === 'enum') return `${at}${e.value} is invalid: use ${e.expected}`;
  if (e.problem === 'unknown') return `${at}unknown field "${e.field}"${e.suggestion ? ` (did you mean "${e.suggestion}"?)` : ''}: the fields are ${e.expected}`;
  return `${at}field "${e.field}" must be ${e.expected}`;
}

/** Status and client-facing reason of any thrown value; `internal` when it is not ours. */
export function describeError(err: unknown): { status: number; message: string; internal: boolean } {
  if (err instanceof BrokerError) return { status: statusOfCode[err.code] ?? 500, message: err.message, internal: false };
  if (err instanceof HttpError) return { status: err.status, message: err.message, internal: false };
  if (err instanceof FieldError) return { status: 400, message: fieldErrorText(err), internal: false };
  return { status: 500, message: 'internal error', internal: true };
}
