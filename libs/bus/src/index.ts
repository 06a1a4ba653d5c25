export { connectBus, type Bus, type BusOptions } from './connection.js';
export { names } from './names.js';
export { ensureTopology, JOB_ACK_WAIT_SECONDS, JOB_MAX_DELIVER } from './topology.js';
export { submitJob, consumeJobs, type JobContext, type ConsumeOptions } from './jobs.js';
export { publishEvent, watchEvents, type StudyEvent } from './events.js';
export {
  registerTeacher,
  findTeachers,
  waitForTeacher,
  type TeacherRegistration,
} from './teacher-registry.js';
export {
  putArtifact,
  getArtifact,
  publishTeacher,
  fetchTeacher,
  type TeacherMeta,
} from './artifacts.js';
export { putResult, getResult } from './results.js';
export { startNatsServer, type NatsServerHandle } from './nats-server.js';
