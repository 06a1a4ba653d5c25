import { Metadata, type ServiceError, status } from '@grpc/grpc-js';

/** Trailing-metadata key under which the server names the field at fault. */
export const FIELD_METADATA_KEY = 'vicinal-field';

/**
 * A teacher call that failed: the gRPC status code, the server's message and,
 * when the server named one, the request field at fault.
 */
export class TeacherCallError extends Error {
  override readonly name = 'TeacherCallError';
  readonly code: status;
  readonly field: string | null;

  constructor(code: status, message: string, field: string | null = null) {
    super(`${status[code] ?? code}: ${message}`);
    this.code = code;
    this.field = field;
  }

  /** From a grpc-js ServiceError (its details and trailing metadata). */
  static fromServiceError(err: ServiceError): TeacherCallError {
    const field = err.metadata?.get(FIELD_METADATA_KEY)[0];
    return new TeacherCallError(
      err.code,
      err.details || err.message,
      typeof field === 'string' && field ? field : null,
    );
  }
}

/** Trailing metadata that names `field`, for servers building an error status. */
export function fieldMetadata(field: string | null): Metadata {
  const metadata = new Metadata();
  if (field) metadata.set(FIELD_METADATA_KEY, field);
  return metadata;
}
