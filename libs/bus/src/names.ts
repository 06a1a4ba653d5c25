/**
 * Every stream, subject and bucket name the system uses, in one place.
 * Names avoid features newer than nats-server 2.9.
 */
export const names = {
  jobsStream: 'VICINAL_JOBS',
  /** Subject of distillation jobs: `vicinal.jobs.distill`. */
  distillSubject: 'vicinal.jobs.distill',
  /** Durable pull consumer shared by all student trainers. */
  studentsConsumer: 'students',
  /** Jobs that could not be decoded or kept failing land here. */
  deadLetterSubject: 'vicinal.dead.distill',
  /** Keeps the advisories of jobs that ran out of deliveries (exhausted-jobs.ts). */
  advisoriesStream: 'VICINAL_ADVISORIES',
  /**
   * The advisory nats-server publishes when a job reached the students'
   * max_deliver without an ack or a termination (its last delivery's ack
   * wait ran out); JetStream never delivers that job again.
   */
  exhaustedJobsAdvisory:
    '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.VICINAL_JOBS.students',
  /** Durable consumer of those advisories shared by the coordinators. */
  exhaustedJobsConsumer: 'exhausted-jobs',
  eventsStream: 'VICINAL_EVENTS',
  /** Progress events of a study: `vicinal.events.<studyId>`. */
  eventsSubject: (studyId: string) => `vicinal.events.${studyId}`,
  teachersBucket: 'vicinal_teachers',
  resultsBucket: 'vicinal_results',
  modelsStore: 'vicinal_models',
} as const;
