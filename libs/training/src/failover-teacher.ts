import { status } from '@grpc/grpc-js';
import type { Logger } from '@vicinal/telemetry';
import { TeacherCallError } from '@vicinal/wire';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/**
 * Finds a live teacher address, skipping `exclude` (addresses that failed
 * recently). Null when none is available right now.
 */
export type TeacherResolver = (
  exclude: ReadonlySet<string>,
  signal: AbortSignal,
) => Promise<string | null>;

/** Opens a teacher source at `address` (e.g. RemoteTeacher.connect). */
export type TeacherConnector = (address: string) => Promise<TeacherSource>;

export interface FailoverOptions {
  model: string;
  resolve: TeacherResolver;
  connect: TeacherConnector;
  /**
   * Longest one query may go without an answer once it first failed; then
   * it rejects with a TeacherUnavailableError (default 120 s).
   */
  deadlineMs?: number;
  /** First wait between attempts (default 100 ms); doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** Longest wait between attempts (default 5 s). */
  maxBackoffMs?: number;
  /**
   * How long an address that failed is left out when resolving (default
   * 10 s, the registry's TTL: by then a dead teacher's entry is gone).
   */
  quarantineMs?: number;
  /** Seed of the backoff jitter (spreads the retries of many students). */
  jitterSeed?: number;
  signal?: AbortSignal;
  log?: Logger;
}

/** No teacher answered a query within the deadline. */
export class TeacherUnavailableError extends Error {
  override readonly name = 'TeacherUnavailableError';
}

/** What the failover did so far. */
export interface FailoverStats {
  /** Queries answered. */
  answered: number;
  /** Attempts that failed and were retried. */
  retries: number;
  /** Times a teacher was given up on and another one resolved. */
  failovers: number;
  /** Every address connected to, in order (repeats when one came back). */
  addresses: string[];
}

type Outcome = 'fatal' | 'backoff' | 'failover';

interface Connection {
  address: string;
  source: TeacherSource;
}

/** Nothing to connect to right now; retried like an unreachable teacher. */
class NoTeacherYet extends Error {}

/**
 * A TeacherSource that survives teacher replicas dying. Each query goes to
 * the current teacher; when it fails with UNAVAILABLE, DEADLINE_EXCEEDED or
 * CANCELLED (a server stopped under the call), that address is quarantined,
 * a live teacher is resolved and connected, and the same query is sent
 * again; RESOURCE_EXHAUSTED is retried on the same teacher. Waits between
 * attempts grow exponentially with jitter, bounded by maxBackoffMs, and a
 * query that stays unanswered for deadlineMs after its first failure
 * rejects. A query either returns the teacher's logits for exactly that
 * batch or rejects, so a training step is never skipped nor run twice.
 * Other errors (a malformed request, a TLS setup that cannot work) reject
 * at once. Concurrent queries share one reconnection.
 */
export class FailoverTeacher implements TeacherSource {
  readonly kind = 'remote';
  readonly model: string;
  private current: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private readonly quarantine = new Map<string, number>();
  private readonly stop = new AbortController();
  private lastAddress = '';
  private jitterState: number;
  private readonly counters: FailoverStats = {
    answered: 0,
    retries: 0,
    failovers: 0,
    addresses: [],
  };

  private constructor(private readonly options: FailoverOptions) {
    this.model = options.model;
    this.jitterState = (options.jitterSeed ?? 1) >>> 0 || 1;
    options.signal?.addEventListener(
      'abort',
      () => this.stop.abort(options.signal?.reason),
      {
        once: true,
      },
    );
  }

  /**
   * Creates the failover teacher and connects to a first teacher (waiting
   * for one up to the deadline), so a job without any teacher fails early.
   */
  static async open(options: FailoverOptions): Promise<FailoverTeacher> {
    const teacher = new FailoverTeacher(options);
    try {
      await teacher.withRetries('connect', (c) => Promise.resolve(c));
    } catch (err) {
      await teacher.close();
      throw err;
    }
    return teacher;
  }

  /** The teacher in use (the last one used while reconnecting). */
  get address(): string {
    return this.current?.address ?? this.lastAddress;
  }

  stats(): FailoverStats {
    return { ...this.counters, addresses: [...this.counters.addresses] };
  }

  async softLabels(query: MixedBatchQuery): Promise<Float32Array> {
    return (await this.answer(query)).logits;
  }

  /** Soft labels for `query` and the address of the teacher that answered. */
  answer(query: MixedBatchQuery): Promise<{ logits: Float32Array; address: string }> {
    return this.withRetries('soft labels', async (c) => {
      const logits = await c.source.softLabels(query);
      this.counters.answered += 1;
      return { logits, address: c.address };
    });
  }

  /**
   * Logits for several batches, sent together when the current teacher can
   * (softLabelsMany), with the same retries: a failed attempt asks for all
   * of them again, so their logits all come from the attempt that succeeded.
   */
  async softLabelsMany(queries: readonly MixedBatchQuery[]): Promise<Float32Array[]> {
    return (await this.answerMany(queries)).logits;
  }

  /** Soft labels for several batches and the address of the teacher that answered them. */
  answerMany(
    queries: readonly MixedBatchQuery[],
  ): Promise<{ logits: Float32Array[]; address: string }> {
    return this.withRetries('soft labels', async (c) => {
      const logits = c.source.softLabelsMany
        ? await c.source.softLabelsMany(queries)
        : await Promise.all(queries.map((q) => c.source.softLabels(q)));
      this.counters.answered += queries.length;
      return { logits, address: c.address };
    });
  }

  /** Mixed and clean logits (for the vicinal analysis), with the same retries. */
  softLabelsWithConstituents(
    query: MixedBatchQuery,
  ): Promise<{ mixed: Float32Array; clean: Float32Array }> {
    return this.withRetries('soft labels with constituents', async (c) => {
      if (!c.source.softLabelsWithConstituents) {
        throw new Error(`teacher at ${c.address} cannot return constituent logits`);
      }
      return c.source.softLabelsWithConstituents(query);
    });
  }

  async close(): Promise<void> {
    this.stop.abort(new Error('teacher closed'));
    const open = this.current;
    this.current = null;
    await open?.source.close().catch(() => {});
  }

  /** Runs `call` on a connection until it succeeds, fails for good, or times out. */
  private async withRetries<T>(
    what: string,
    call: (connection: Connection) => Promise<T>,
  ): Promise<T> {
    const deadlineMs = this.options.deadlineMs ?? 120_000;
    let deadline = 0;
    let attempt = 0;
    for (;;) {
      this.checkStopped();
      let connection: Connection | null = null;
      try {
        connection = await this.connection();
        return await call(connection);
      } catch (err) {
        this.checkStopped();
        const outcome = classify(err);
        if (outcome === 'fatal') throw err;
        if (outcome === 'failover' && connection) this.abandon(connection, err as Error);
        deadline ||= Date.now() + deadlineMs;
        attempt += 1;
        this.counters.retries += 1;
        const wait = this.backoff(attempt);
        if (Date.now() + wait > deadline) {
          throw new TeacherUnavailableError(
            `${what}: no teacher for model "${this.model}" answered within ` +
              `${deadlineMs} ms after the first failure (${attempt} attempts; ` +
              `last error: ${(err as Error).message})`,
          );
        }
        this.options.log?.warn(
          {
            model: this.model,
            attempt,
            waitMs: Math.round(wait),
            err: (err as Error).message,
          },
          `teacher ${what} failed; retrying`,
        );
        await sleep(wait, this.stop.signal);
      }
    }
  }

  /** The current connection, or one new connection shared by all waiting queries. */
  private connection(): Promise<Connection> {
    if (this.current) return Promise.resolve(this.current);
    this.connecting ??= this.establish().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async establish(): Promise<Connection> {
    const now = Date.now();
    for (const [address, until] of this.quarantine) {
      if (until <= now) this.quarantine.delete(address);
    }
    const exclude = new Set(this.quarantine.keys());
    let address: string | null;
    try {
      address = await this.options.resolve(exclude, this.stop.signal);
    } catch (err) {
      throw new NoTeacherYet(`resolving a teacher failed: ${(err as Error).message}`);
    }
    if (!address || exclude.has(address)) {
      const skipped = exclude.size ? ` (skipping failed ${[...exclude].join(', ')})` : '';
      throw new NoTeacherYet(`no live teacher for model "${this.model}"${skipped}`);
    }
    let source: TeacherSource;
    try {
      source = await this.options.connect(address);
    } catch (err) {
      if (classify(err) !== 'fatal') this.quarantineAddress(address);
      throw err;
    }
    if (this.stop.signal.aborted) {
      await source.close().catch(() => {});
      this.checkStopped();
    }
    if (this.counters.addresses.length) this.counters.failovers += 1;
    this.counters.addresses.push(address);
    this.lastAddress = address;
    this.current = { address, source };
    this.options.log?.info({ model: this.model, address }, 'teacher connected');
    return this.current;
  }

  /** Gives up on a teacher: later queries resolve another one. */
  private abandon(connection: Connection, err: Error): void {
    this.quarantineAddress(connection.address);
    if (this.current !== connection) return; // another query already did
    this.current = null;
    this.options.log?.warn(
      { model: this.model, address: connection.address, err: err.message },
      'teacher failed; switching',
    );
    // Calls still running on it fail with CANCELLED and are retried too.
    connection.source.close().catch(() => {});
  }

  private quarantineAddress(address: string): void {
    this.quarantine.set(address, Date.now() + (this.options.quarantineMs ?? 10_000));
  }

  /** Exponential backoff with "equal jitter": between half and all of the step. */
  private backoff(attempt: number): number {
    const initial = this.options.initialBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 5000;
    const step = Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
    // xorshift32: deterministic per seed, no shared global randomness.
    let x = this.jitterState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.jitterState = x >>> 0;
    return step / 2 + (step / 2) * (this.jitterState / 0x1_0000_0000);
  }

  private checkStopped(): void {
    if (this.stop.signal.aborted) {
      const reason = this.stop.signal.reason;
      throw reason instanceof Error ? reason : new Error('teacher closed');
    }
  }
}

/** What to do after an error: give up, wait and retry here, or switch teacher. */
function classify(err: unknown): Outcome {
  if (err instanceof NoTeacherYet) return 'failover';
  if (!(err instanceof TeacherCallError)) return 'fatal';
  switch (err.code) {
    case status.RESOURCE_EXHAUSTED:
      return 'backoff';
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.CANCELLED:
      return 'failover';
    default:
      return 'fatal';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
