/**
 * The one table from the core's error taxonomy to gRPC status codes
 * (docs/PROTOCOL.md, "gRPC": errors are status codes with a readable message).
 */
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { invalid, isBrokerError, type BrokerError, type ErrorCode } from '../../broker/errors.js';
import { ERROR_CODE_TRAILER, type MalformedRequest } from '../../protocol/grpc-definition.js';

const STATUS_OF: Readonly<Record<ErrorCode, status>> = {
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
};


/** The status a failed call ends with; unknown errors are logged and hidden. */
export function statusOf(err: unknown, log: Logger, method: string): StatusObject {
  const metadata = new Metadata();
  if (isBrokerError(err)) {
    metadata.set(ERROR_CODE_TRAILER, err.code);
    return { code: STATUS_OF[err.code], details: err.message, metadata };
  }
  log.error({ err, method }, 'grpc call failed with an internal error');
  return { code: status.INTERNAL, details: 'internal error', metadata };
}

export function shuttingDown(): StatusObject {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, 'UNAVAILABLE');
  return { code: status.UNAVAILABLE, details: 'server shutting down', metadata };
}

export function malformed(req: MalformedRequest): BrokerError {
  return invalid(`malformed ${req.typeName}: ${req.reason}`);
}
