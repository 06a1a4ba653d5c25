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
