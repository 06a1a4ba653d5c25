import { isMainThread } from 'node:worker_threads';
import { LOG_LEVEL_NAMES, logLevelOf } from '@vicinal/config';
import { type Logger, pino } from 'pino';

export type { Logger };

/** The levels VICINAL_LOG_LEVEL accepts, most verbose first (libs/config). */
export const LOG_LEVELS = LOG_LEVEL_NAMES;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Level of a logger when VICINAL_LOG_LEVEL is unset or empty. */
const DEFAULT_LEVEL: LogLevel = 'warn';

/**
 * Level of a logger when VICINAL_LOG_LEVEL holds no level. Setting the
 * variable at all asks for log lines, so "info" (the service's life-cycle
 * events) rather than the quiet default.
 */
const FALLBACK_LEVEL: LogLevel = 'info';

let unknownLevelReported = false;

/**
 * One structured logger per process: JSON lines on stderr, quiet by default.
 * Level comes from VICINAL_LOG_LEVEL (default "warn"), so libraries never
 * print unless asked. stdout stays free for the CLI's human output.
 *
 * A level that is none of LOG_LEVELS (any case) does not stop the process
 * here: loggers are created when modules load (the backend's), before a
 * service has read its settings, which is where the services refuse it
 * (libs/config). Until then, and in the CLI, the logger falls back to
 * "info", and the first line logged in the process is preceded by a warn
 * line naming the variable and the accepted values. A process that refuses
 * the level before logging anything so prints only its refusal (on the main
 * thread only: worker threads, such as the teacher's inference thread, read
 * the same environment and would repeat it).
 */
export function createLogger(name: string, level?: string): Logger {
  const wanted = level ?? process.env.VICINAL_LOG_LEVEL;
  const known = logLevel(wanted);
  const warnFirst = (logger: Logger) => {
    if (unknownLevelReported || !isMainThread) return;
    unknownLevelReported = true;
    logger.warn(
      `VICINAL_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got ` +
        `${JSON.stringify(wanted)}; logging at "${FALLBACK_LEVEL}"`,
    );
  };
  return pino(
    {
      name,
      level: known ?? FALLBACK_LEVEL,
      hooks: known
        ? {}
        : {
            logMethod(args, method) {
              warnFirst(this);
              method.apply(this, args);
            },
          },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** The level a setting names: the default when unset or empty, null when unknown. */
export function logLevel(setting: string | undefined): LogLevel | null {
  const level = logLevelOf(setting);
  return level === undefined ? DEFAULT_LEVEL : level;
}
