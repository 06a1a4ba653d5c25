import { status } from '@grpc/grpc-js';
import { WireError } from '@vicinal/wire';
import { BatcherError } from './batcher.js';

/**
 * A request the server will not or cannot answer: the gRPC status to send,
 * and the request field at fault when there is one.
 */
export class TeacherRequestError extends Error {
  override readonly name = 'TeacherRequestError';
  constructor(
    readonly code: status,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }

  /** INVALID_ARGUMENT naming the field, what was expected and what arrived. */
  static invalid(field: string, expected: string, received: string): TeacherRequestError {
    return new TeacherRequestError(
      status.INVALID_ARGUMENT,
      `${field}: expected ${expected}, got ${received}`,
      field,
    );
  }
}

/** Maps anything thrown while answering to the status a client should see. */
export function toRequestError(err: unknown): TeacherRequestError {
  if (err instanceof TeacherRequestError) return err;
  if (err instanceof WireError) {
    return new TeacherRequestError(status.INVALID_ARGUMENT, err.message, err.field);
  }
  if (err instanceof BatcherError) {
    const code = {
      'queue-full': status.RESOURCE_EXHAUSTED,
      closed: status.UNAVAILABLE,
      invalid: status.INTERNAL,
      inference: status.INTERNAL,
      cancelled: status.CANCELLED,
      deadline: status.DEADLINE_EXCEEDED,
    }[err.reason];
    return new TeacherRequestError(code, err.message);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TeacherRequestError(status.INTERNAL, `internal error: ${message}`);
}
