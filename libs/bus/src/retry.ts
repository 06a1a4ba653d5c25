import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import type { Logger } from '@vicinal/telemetry';

/**
 * Whether a failed NATS call may succeed when tried again: the server did
 * not answer in time, or nobody answered (JetStream not back yet after a
 * restart, the client reconnecting). Refusals (permissions, a bad request,
 * a closed connection) are not.
 */
export function isTransientBusError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof TimeoutError || e instanceof NoRespondersError) return true;
    if (e instanceof RequestError && e.isNoResponders()) return true;
    if (/\b(timeout|no responders|temporarily unavailable)\b/i.test(e.message)) {
      return true;
    }
  }
  return false;
}

/** How long retryTransient keeps trying by default: a restart of nats-server and then some. */
export const BUS_RETRY_BUDGET_MS = 60_000;

/**
 * Runs `call`, and again while it fails with a transient NATS error (see
 * isTransientBusError), waiting 250 ms, then twice as long each time up to
 * 2 s, for at most `budgetMs` in all. Then, or on any other error, or when
 * `signal` aborts, it rejects with the last error; after the budget its
 * message says what was tried and for how long. The first retry is logged
 * at warn, so a nats-server restart shows once in the log, not per call.
 */
export async function retryTransient<T>(
  what: string,
  call: () => Promise<T>,
  options: {
    log?: Logger;
    signal?: AbortSignal;
    budgetMs?: number;
    /** Told of the first retry (besides `log`), e.g. to print it. */
    onFirstRetry?: (message: string) => void;
  } = {},
): Promise<T> {
  const budget = options.budgetMs ?? BUS_RETRY_BUDGET_MS;
  const started = Date.now();
  let wait = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransientBusError(err) || options.signal?.aborted) throw err;
      const spent = Date.now() - started;
      if (spent + wait > budget) {
        throw new Error(
          `${what}: NATS did not answer for ${Math.round(spent / 1000)} s ` +
            `(${attempt} tries): ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (attempt === 1) {
        options.log?.warn(
          { err: (err as Error).message, what },
          'NATS did not answer; trying again',
        );
        options.onFirstRetry?.(
          `${what}: NATS did not answer (${(err as Error).message}); trying again`,
        );
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(2 * wait, 2000);
    }
  }
}
