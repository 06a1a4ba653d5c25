import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * One structured logger per process: JSON lines on stderr, quiet by default.
 * Level comes from VICINAL_LOG_LEVEL (default "warn"), so libraries never
 * print unless asked. stdout stays free for the CLI's human output.
 */
export function createLogger(name: string, level?: string): Logger {
  return pino(
    { name, level: level ?? process.env.VICINAL_LOG_LEVEL ?? 'warn' },
    pino.destination({ fd: 2, sync: true }),
  );
}
