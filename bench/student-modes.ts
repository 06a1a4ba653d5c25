/**
 * Section 1's modes, in the order the bench lists them (kept apart from
 * student-throughput.ts, which runs as a child process when imported).
 */
export const STUDENT_MODES = [
  'none',
  'in-process',
  'remote',
  'remote-pixels',
  'remote-per-step',
  'free',
] as const;
export type StudentMode = (typeof STUDENT_MODES)[number];
