/**
 * The one error taxonomy of the core. Fronts map `code` to their own status
 * codes in a single table each (gRPC status, HTTP status, TCP error frame).
 * Messages name the thing that failed and, where useful, what to do.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED';

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string): BrokerError => new BrokerError('NOT_FOUND', `${what} not found`);
export const alreadyExists = (what: string): BrokerError =>
  new BrokerError('ALREADY_EXISTS', `${what} already exists`);
export const invalid = (message: string): BrokerError => new BrokerError('INVALID_ARGUMENT', message);
export const precondition = (message: string): BrokerError => new BrokerError('FAILED_PRECONDITION', message);
export const exhausted = (message: string): BrokerError => new BrokerError('RESOURCE_EXHAUSTED', message);
export const unavailable = (message: string): BrokerError => new BrokerError('UNAVAILABLE', message);
export const unauthenticated = (message: string): BrokerError => new BrokerError('UNAUTHENTICATED', message);
export const permissionDenied = (message: string): BrokerError => new BrokerError('PERMISSION_DENIED', message);

export function isBrokerError(err: unknown): err is BrokerError {
  return err instanceof BrokerError;
}
