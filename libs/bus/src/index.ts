export {
  checkpointArtifact,
  deleteArtifact,
  fetchTeacher,
  getArtifact,
  publishTeacher,
  putArtifact,
  studentArtifact,
  type TeacherMeta,
} from './artifacts.js';
export {
  type Bus,
  type BusOptions,
  type BusTlsOptions,
  connectBus,
} from './connection.js';
export {
  deadLetteredJobs,
  deliveryNote,
  isFinalFailure,
  lastEventSequence,
  publishEvent,
  type SeenEvent,
  type StudyEvent,
  storedEvents,
  watchEvents,
} from './events.js';
export {
  deadLetterExhausted,
  type ExhaustedOutcome,
  exhaustedReason,
  reapExhaustedJobs,
} from './exhausted-jobs.js';
export {
  holdLease,
  type LeaseRecord,
  readLease,
  releaseLease,
  type StandByOutcome,
  standBy,
} from './job-lease.js';
export {
  type ConsumeOptions,
  consumeJobs,
  countJob,
  isJobQueued,
  type JobContext,
  type JobState,
  publishDeadLetter,
  submitJob,
} from './jobs.js';
export { names } from './names.js';
export {
  authorizationBlock,
  type BusRole,
  type NatsUser,
  rolePermissions,
  type SubjectPermissions,
} from './nats-auth.js';
export {
  type NatsServerHandle,
  type NatsServerOptions,
  type NatsServerTls,
  startNatsServer,
} from './nats-server.js';
export { getResult, listResults, putResult } from './results.js';
export {
  BUS_RETRY_BUDGET_MS,
  isTransientBusError,
  retryTransient,
} from './retry.js';
export {
  findTeachers,
  registerTeacher,
  type TeacherRegistration,
  teacherInstance,
  waitForTeacher,
} from './teacher-registry.js';
export { ensureTopology, JOB_ACK_WAIT_SECONDS, JOB_MAX_DELIVER } from './topology.js';
export { messageTraceContext, natsHeaderCarrier, traceHeaders } from './trace-headers.js';
