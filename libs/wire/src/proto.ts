import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The repository's protos/ directory (the include root of every .proto). */
export const PROTO_ROOT = fileURLToPath(new URL('../../../protos/', import.meta.url));

/** teacher.proto, relative to PROTO_ROOT. */
export const TEACHER_PROTO = 'vicinal/teacher/v1/teacher.proto';

/** Fully qualified name of the teacher service. */
export const TEACHER_SERVICE = 'vicinal.teacher.v1.TeacherService';

/**
 * How every message is converted to and from JavaScript. messages.ts types
 * follow these choices; change both together.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let cached: grpc.ServiceDefinition | undefined;

/** The TeacherService definition (method paths and (de)serialisers), loaded once. */
export function teacherServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const definition = protoLoader.loadSync(TEACHER_PROTO, PROTO_LOADER_OPTIONS);
    const service = definition[TEACHER_SERVICE];
    if (!service || !('SoftLabels' in service)) {
      throw new Error(
        `${TEACHER_PROTO}: expected service ${TEACHER_SERVICE}, found none`,
      );
    }
    cached = service as grpc.ServiceDefinition;
  }
  return cached;
}

/** One method of the teacher service, typed by its request and response. */
export function teacherMethod<Req, Res>(
  name: 'SoftLabels' | 'SoftLabelsStream' | 'Describe',
): grpc.MethodDefinition<Req, Res> {
  return teacherServiceDefinition()[name] as grpc.MethodDefinition<Req, Res>;
}

/**
 * A request whose bytes do not decode as its protobuf message (random or
 * truncated bytes). Handed to the method handler instead of the message by
 * the definitions of `lenientRequests`.
 */
export class UndecodableMessage {
  constructor(
    /** The decoder's complaint. */
    readonly reason: string,
    /** Size of the message received. */
    readonly bytes: number,
  ) {}
}

/**
 * `definition` with request decoding that never throws: bytes that do not
 * decode arrive at the handler as an UndecodableMessage, so the server can
 * refuse them with INVALID_ARGUMENT for that request alone. (grpc-js itself
 * answers INTERNAL, and on a stream ends the whole call.)
 */
export function lenientRequests(
  definition: grpc.ServiceDefinition,
): grpc.ServiceDefinition {
  const lenient = Object.entries(definition).map(([name, method]) => {
    const decode = method.requestDeserialize;
    const requestDeserialize = (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch (err) {
        return new UndecodableMessage((err as Error).message, bytes.length);
      }
    };
    return [name, { ...method, requestDeserialize }];
  });
  return Object.fromEntries(lenient) as grpc.ServiceDefinition;
}
