import { status } from '@grpc/grpc-js';
import {
  injectTraceContext,
  instruments,
  recordCarrier,
  SpanKind,
  withSpan,
} from '@vicinal/telemetry';
import {
  type SoftLabelsQuery,
  type SoftLabelsResult,
  type SoftLabelsStream,
  TEACHER_SERVICE,
  TeacherCallError,
  TeacherClient,
  type TeacherClientOptions,
} from '@vicinal/wire';
import { mergeQueries, packQueries, splitLogits, splitQuery } from './query-pack.js';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/** Bytes of a request besides its rows (model, trace context, framing), erring high. */
const REQUEST_FRAME_BYTES = 512;
/** Bytes a row adds to a "mix" request besides its pixels: partner and lambda. */
const MIX_ROW_BYTES = 9;
/** Bytes a row adds to a "rows" request: row number, partner and lambda. */
const ROWS_ROW_BYTES = 14;

/** What one request to a server may hold, from its Describe. */
interface ServerLimits {
  /** Rows: the max batch, or the queue limit when smaller. */
  maxRows: number;
  /** The queue limit (null: not reported): rows with constituents wait twice. */
  queueRows: number | null;
  /** The max message size (null: not reported). */
  maxBytes: number | null;
}

/** How a query travels: row numbers of a split the teacher holds, or its images. */
export type QueryForm = 'rows' | 'images';

/**
 * A teacher served over gRPC. Batches go in "mix on the teacher" form (clean
 * uint8 images + partner + lambda), a quarter of the bytes of float32 mixed
 * images; the server builds exactly the mixed batch the student trains on.
 * When the query says which rows of a fingerprinted split its images are and
 * the server holds that split (its Describe, read before the first such
 * query), only the row numbers go ("rows" form): under 10 bytes an image
 * instead of 789 for Fashion-MNIST. A server that stops holding it
 * (FAILED_PRECONDITION) gets the images again, that query included.
 * Several batches' queries (softLabelsMany, a trainer's next steps) go as
 * one request, whole batches packed up to the server's max_batch, queue
 * limit and message size from Describe: grpc-js's work per message on the
 * student's core, not the bytes, is what a remote teacher costs it.
 * Queries travel as requests on one SoftLabelsStream call, opened when first
 * needed and again after it ends: a unary call per batch cost the student
 * about twice the CPU per query, mostly in building calls and in the
 * garbage they leave. Each request carries its own trace context and
 * deadline, so a query still reads as one span with the server's inside.
 */
export class RemoteTeacher implements TeacherSource {
  readonly kind = 'remote';
  private stream: SoftLabelsStream | null = null;
  private closed = false;
  /** Fingerprints of the splits the server holds; null until Describe answered. */
  private held: ReadonlySet<string> | null = null;
  /** What one request may hold; null until Describe answered, or when it failed. */
  private limits: ServerLimits | null = null;
  private describing: Promise<void> | null = null;
  /** The form the last query went in, as last reported to `onForm`. */
  private form: QueryForm | null = null;

  private constructor(
    private readonly client: TeacherClient,
    readonly address: string,
    readonly model: string,
    private readonly sendRows: boolean,
    private readonly onForm: ((form: QueryForm, why: string) => void) | undefined,
  ) {}

  /**
   * Connects to the teacher at `address`. `options` carry TLS (`tls: {ca,
   * cert?, key?}`), the plaintext opt-in for non-loopback addresses
   * (`insecure`), the connect deadline and each query's deadline;
   * `sendRows: false` keeps every query in "mix" form, with its pixels;
   * `onForm` hears which form the queries go in, when it is first known and
   * whenever it changes, with the reason.
   */
  static async connect(
    address: string,
    model: string,
    options: TeacherClientOptions & {
      sendRows?: boolean;
      onForm?: (form: QueryForm, why: string) => void;
    } = {},
  ): Promise<RemoteTeacher> {
    const { sendRows = true, onForm, ...client } = options;
    return new RemoteTeacher(
      await TeacherClient.connect(address, client),
      address,
      model,
      sendRows,
      onForm,
    );
  }

  /** Tells `onForm` the form of the next query when it differs from the last. */
  private sending(form: QueryForm, why: () => string): void {
    if (form === this.form) return;
    this.form = form;
    this.onForm?.(form, why());
  }

  async softLabels(query: MixedBatchQuery): Promise<Float32Array> {
    return (await this.ask(query, false)).mixed;
  }

  /** Logits on the mixed batch and on its clean images (for the analysis). */
  softLabelsWithConstituents(query: MixedBatchQuery) {
    return this.ask(query, true) as Promise<{
      mixed: Float32Array;
      clean: Float32Array;
    }>;
  }

  /**
   * One query as one request, or, when it has more rows than a request to
   * this server may hold (max batch, queue limit, message size), as parts
   * that each stand alone (splitQuery), one after another, their answers put
   * back in the query's order: the same logits either way.
   */
  private async ask(
    query: MixedBatchQuery,
    constituents: boolean,
  ): Promise<{ mixed: Float32Array; clean?: Float32Array | null }> {
    if (this.held === null) await this.describe();
    const rows = query.lambda.length;
    const limit = this.rowsPerRequest([query], constituents);
    if (limit === null || rows <= limit || limit < 2) {
      return this.query(query, constituents);
    }
    let mixed: Float32Array | null = null;
    let clean: Float32Array | null = null;
    for (const part of splitQuery(query, limit)) {
      const answer = await this.query(part.query, constituents);
      const k = answer.mixed.length / part.query.lambda.length;
      mixed ??= new Float32Array(rows * k);
      mixed.set(answer.mixed.subarray(0, part.own * k), part.from * k);
      if (answer.clean) {
        clean ??= new Float32Array(rows * k);
        clean.set(answer.clean.subarray(0, part.own * k), part.from * k);
      }
    }
    return { mixed: mixed ?? new Float32Array(0), ...(clean ? { clean } : {}) };
  }

  /** Whether a query naming `rows` goes as row numbers to this server. */
  private sendsRows(rows: MixedBatchQuery['rows']): rows is NonNullable<typeof rows> {
    return rows !== undefined && this.sendRows && this.held?.has(rows.dataset) === true;
  }

  /**
   * Most rows one request of `queries` (sent together, merged) may hold, in
   * the form they go in (null: the server's limits are not known). Asking
   * for the constituents doubles the rows that wait in the server's queue.
   */
  private rowsPerRequest(
    queries: readonly MixedBatchQuery[],
    constituents: boolean,
  ): number | null {
    const l = this.limits;
    if (!l) return null;
    let rows = l.maxRows;
    if (constituents && l.queueRows !== null) {
      rows = Math.min(rows, Math.floor(l.queueRows / 2));
    }
    if (l.maxBytes !== null) {
      // Merged queries go as rows only when all name rows of one held split.
      const dataset = queries[0].rows?.dataset;
      const asRows = queries.every(
        (q) => this.sendsRows(q.rows) && q.rows.dataset === dataset,
      );
      const perRow = asRows
        ? ROWS_ROW_BYTES
        : queries[0].images.length / Math.max(1, queries[0].lambda.length) +
          MIX_ROW_BYTES;
      rows = Math.min(rows, Math.floor((l.maxBytes - REQUEST_FRAME_BYTES) / perRow));
    }
    return rows;
  }

  /**
   * Logits for several batches. Whole batches are packed into as few
   * requests as the server's limits allow (a batch's partners point inside
   * it, so none is packed across a limit; one too large alone is asked in
   * parts, see ask); each answer is cut back into the batches' own.
   * When they take more than one request, the requests go one after another:
   * each fits the server's queue alone, not always together.
   */
  async softLabelsMany(queries: readonly MixedBatchQuery[]): Promise<Float32Array[]> {
    if (queries.length <= 1) return Promise.all(queries.map((q) => this.softLabels(q)));
    if (this.held === null) await this.describe();
    const limit = this.rowsPerRequest(queries, false);
    const packs = limit !== null ? packQueries(queries, limit) : queries.map((q) => [q]);
    const answers: Float32Array[] = [];
    for (const pack of packs) {
      if (pack.length === 1) {
        answers.push(await this.softLabels(pack[0]));
      } else {
        const { mixed } = await this.query(mergeQueries(pack), false, pack.length);
        answers.push(...splitLogits(mixed, pack));
      }
    }
    return answers;
  }

  /**
   * What the server holds and takes, asked once per connection; a failed ask
   * counts as no split held and no known limits (the images then go, one
   * batch per request, as to any server). Until the answer is in, queries
   * wait for it; after, the checks are synchronous, so a query is written
   * the moment it is made.
   */
  private describe(): Promise<void> {
    this.describing ??= this.client.describe(this.model).then(
      (d) => {
        this.held = new Set(d.heldDatasets.map((h) => h.fingerprint));
        const maxRows = Math.min(d.maxBatch, d.queueLimit ?? d.maxBatch);
        this.limits =
          maxRows > 0
            ? { maxRows, queueRows: d.queueLimit, maxBytes: d.maxMessageBytes || null }
            : null;
      },
      () => {
        this.held = new Set();
        this.limits = null;
      },
    );
    return this.describing;
  }

  /**
   * Refuses a request the server could never take: one over its max message
   * size is answered RESOURCE_EXHAUSTED by gRPC itself, which a failover
   * would retry until its deadline. Queries are split to fit (ask), so this
   * catches what splitting cannot: a single row over the limit, or images
   * sent after a rows request fell back to them. The estimate errs high.
   */
  private checkMessageSize(query: MixedBatchQuery, form: 'mix' | 'rows'): void {
    const max = this.limits?.maxBytes;
    const rows = query.lambda.length;
    const bytes =
      REQUEST_FRAME_BYTES +
      (form === 'rows'
        ? ROWS_ROW_BYTES * rows
        : query.images.length + MIX_ROW_BYTES * rows);
    if (max && bytes > max) {
      const field = form === 'rows' ? 'rows.rows' : 'mix.images';
      throw new TeacherCallError(
        status.INVALID_ARGUMENT,
        `${field}: expected a request within the teacher's max message size of ` +
          `${max} bytes, got about ${bytes} (${rows} ${form === 'rows' ? 'rows' : 'images'}); ` +
          'send smaller batches or raise VICINAL_MAX_MESSAGE_BYTES on the teacher',
        field,
      );
    }
  }

  /** The open stream, or a new one when there is none or it ended. */
  private openStream(): SoftLabelsStream {
    if (this.closed) {
      // A query that raced close() (e.g. a failover dropping this teacher).
      throw new TeacherCallError(
        status.CANCELLED,
        `teacher at ${this.address} was closed before the query was sent`,
      );
    }
    if (!this.stream || this.stream.ended) this.stream = this.client.stream();
    return this.stream;
  }

  /** One request; `batches` is how many of the caller's batches it carries. */
  private query(query: MixedBatchQuery, constituents: boolean, batches = 1) {
    const attributes = {
      'rpc.system': 'grpc',
      'rpc.service': TEACHER_SERVICE,
      'rpc.method': 'SoftLabelsStream',
    };
    const port = this.address.slice(this.address.lastIndexOf(':') + 1);
    const span = {
      kind: SpanKind.CLIENT,
      attributes: {
        ...attributes,
        'server.address': this.address.slice(0, this.address.lastIndexOf(':')),
        'server.port': Number(port),
        'vicinal.batch.rows': query.lambda.length,
        'vicinal.teacher.batches': batches,
        'vicinal.teacher.constituents': constituents,
      },
    };
    return withSpan(`${TEACHER_SERVICE}/SoftLabelsStream`, span, async (span) => {
      const traceContext: Record<string, string> = {};
      injectTraceContext(recordCarrier(traceContext));
      const started = performance.now();
      let code = 0;
      const mix = {
        mix: {
          images: query.images,
          shape: query.shape,
          partner: query.partner,
          lambda: query.lambda,
          returnConstituents: constituents,
        },
      };
      const send = (input: Pick<SoftLabelsQuery, 'mix' | 'rows'>) => {
        this.checkMessageSize(query, input.rows ? 'rows' : 'mix');
        return this.openStream().softLabels(
          { model: this.model, ...input, traceContext },
          { timeoutMs: this.client.deadlineMs },
        );
      };
      try {
        const rows = query.rows;
        let result: SoftLabelsResult;
        if (this.sendsRows(rows)) {
          this.sending(
            'rows',
            () => `the teacher holds the training split ${rows.dataset}`,
          );
          span.setAttribute('vicinal.teacher.input', 'rows');
          result = await send({
            rows: {
              dataset: rows.dataset,
              rows: rows.rows,
              partner: query.partner,
              lambda: query.lambda,
              returnConstituents: constituents,
            },
          }).catch((err: unknown) => {
            if (
              !(err instanceof TeacherCallError) ||
              err.code !== status.FAILED_PRECONDITION ||
              err.field !== 'rows.dataset'
            ) {
              throw err;
            }
            // The server no longer holds the split (restarted otherwise):
            // the images from now on, until a new connection asks again.
            this.held = new Set();
            this.sending(
              'images',
              () => 'the teacher no longer holds the training split',
            );
            span.setAttribute('vicinal.teacher.input', 'mix');
            return send(mix);
          });
        } else {
          this.sending('images', () =>
            !this.sendRows
              ? 'row numbers are turned off'
              : !query.rows
                ? 'the images come from no fingerprinted split'
                : 'the teacher does not hold the training split',
          );
          span.setAttribute('vicinal.teacher.input', 'mix');
          result = await send(mix);
        }
        span.setAttributes({
          'vicinal.teacher.queue_ms': result.timings.queueMs,
          'vicinal.teacher.inference_ms': result.timings.inferenceMs,
          'vicinal.batch.size': result.timings.batchSize,
        });
        if (constituents && !result.constituentLogits) {
          throw new Error(`teacher at ${this.address} returned no constituent logits`);
        }
        return { mixed: result.logits, clean: result.constituentLogits };
      } catch (err) {
        code = err instanceof TeacherCallError ? err.code : 2; // UNKNOWN
        throw err;
      } finally {
        span.setAttribute('rpc.grpc.status_code', code);
        instruments().rpcClientDuration.record(performance.now() - started, {
          ...attributes,
          'rpc.grpc.status_code': code,
        });
      }
    });
  }

  /** Ends the stream (queries still waiting fail with CANCELLED) and the channel. */
  async close(): Promise<void> {
    this.closed = true;
    this.stream?.cancel();
    this.stream = null;
    this.client.close();
  }
}
