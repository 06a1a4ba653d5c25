import type { MixedBatchQuery } from './teacher-source.js';

/**
 * Groups consecutive queries into packs of at most `maxRows` rows, each to
 * go as one request. Queries are not split here (a batch's partners point
 * inside it), so a query larger than `maxRows` is a pack of its own, which
 * the teacher client then asks in parts (splitQuery).
 */
export function packQueries(
  queries: readonly MixedBatchQuery[],
  maxRows: number,
): MixedBatchQuery[][] {
  const packs: MixedBatchQuery[][] = [];
  let pack: MixedBatchQuery[] = [];
  let rows = 0;
  for (const query of queries) {
    const n = query.lambda.length;
    if (pack.length > 0 && rows + n > maxRows) {
      packs.push(pack);
      pack = [];
      rows = 0;
    }
    pack.push(query);
    rows += n;
  }
  if (pack.length > 0) packs.push(pack);
  return packs;
}

/**
 * One query for several batches: their images one after the other, each
 * batch's partners shifted to its place, so the teacher mixes every row with
 * the same partner and lambda as it would in the batch's own query. The
 * rows go too when every batch names rows of the same split.
 */
export function mergeQueries(queries: readonly MixedBatchQuery[]): MixedBatchQuery {
  if (queries.length === 0) throw new RangeError('queries: expected at least one, got 0');
  if (queries.length === 1) return queries[0];
  const [, h, w, c] = queries[0].shape;
  let total = 0;
  for (const [i, q] of queries.entries()) {
    const [b, qh, qw, qc] = q.shape;
    if (qh !== h || qw !== w || qc !== c) {
      throw new RangeError(
        `queries[${i}].shape: expected [B, ${h}, ${w}, ${c}] like queries[0], ` +
          `got [${q.shape.join(', ')}]`,
      );
    }
    if (
      q.partner.length !== b ||
      q.lambda.length !== b ||
      q.images.length !== b * h * w * c
    ) {
      throw new RangeError(
        `queries[${i}]: expected ${b} partners, ${b} lambdas and ${b * h * w * c} pixels ` +
          `for shape [${q.shape.join(', ')}], got ${q.partner.length}, ` +
          `${q.lambda.length} and ${q.images.length}`,
      );
    }
    total += b;
  }
  const images = new Uint8Array(total * h * w * c);
  const partner = new Int32Array(total);
  const lambda = new Float32Array(total);
  const dataset = queries[0].rows?.dataset;
  const sameSplit = queries.every(
    (q) => q.rows !== undefined && q.rows.dataset === dataset,
  );
  const rows = sameSplit ? new Uint32Array(total) : null;
  let at = 0;
  for (const q of queries) {
    images.set(q.images, at * h * w * c);
    for (let i = 0; i < q.partner.length; i++) partner[at + i] = q.partner[i] + at;
    lambda.set(q.lambda, at);
    if (rows && q.rows) rows.set(q.rows.rows, at);
    at += q.lambda.length;
  }
  return {
    images,
    shape: [total, h, w, c],
    partner,
    lambda,
    ...(rows && dataset !== undefined ? { rows: { dataset, rows } } : {}),
  };
}

/**
 * Splits the [sum B, K] logits of a merged query into each batch's [B, K]
 * (views of the same buffer, in the queries' order).
 */
export function splitLogits(
  logits: Float32Array,
  queries: readonly MixedBatchQuery[],
): Float32Array[] {
  const total = queries.reduce((n, q) => n + q.lambda.length, 0);
  if (total === 0 || logits.length % total !== 0) {
    throw new RangeError(
      `logits: expected a whole number of classes for each of ${total} rows, ` +
        `got ${logits.length} values`,
    );
  }
  const k = logits.length / total;
  const out: Float32Array[] = [];
  let at = 0;
  for (const q of queries) {
    const n = q.lambda.length;
    out.push(logits.subarray(at * k, (at + n) * k));
    at += n;
  }
  return out;
}

/** One part of a query split to fit a request: its first `own` rows are the query's. */
export interface QueryPart {
  query: MixedBatchQuery;
  /** The original rows this part answers for: [from, from + own). */
  from: number;
  own: number;
}

/**
 * Splits a query of more rows than a request may hold into parts of at most
 * `maxRows` rows that each stand alone: a part holds `maxRows / 2` of the
 * query's rows in order, then the partners of those rows that fall outside
 * them, as extra rows mixed with nothing (lambda 1, their own partner),
 * whose answers are not used. Every row is then mixed with the same partner
 * and lambda as in the whole query, so its logits are the same.
 */
export function splitQuery(query: MixedBatchQuery, maxRows: number): QueryPart[] {
  const b = query.lambda.length;
  if (!Number.isInteger(maxRows) || maxRows < 2) {
    throw new RangeError(`maxRows: expected an integer >= 2, got ${maxRows}`);
  }
  const [, h, w, c] = query.shape;
  const pixels = h * w * c;
  const step = Math.floor(maxRows / 2);
  const parts: QueryPart[] = [];
  for (let from = 0; from < b; from += step) {
    const own = Math.min(step, b - from);
    // Rows of the part: its own, then each outside partner once.
    const members: number[] = [];
    const place = new Map<number, number>();
    for (let i = from; i < from + own; i++) {
      place.set(i, members.length);
      members.push(i);
    }
    for (let i = from; i < from + own; i++) {
      const p = query.partner[i];
      if (!place.has(p)) {
        place.set(p, members.length);
        members.push(p);
      }
    }
    const n = members.length;
    const images = new Uint8Array(n * pixels);
    const partner = new Int32Array(n);
    const lambda = new Float32Array(n);
    members.forEach((row, i) => {
      images.set(query.images.subarray(row * pixels, (row + 1) * pixels), i * pixels);
      const mine = i < own;
      partner[i] = mine ? (place.get(query.partner[row]) ?? i) : i;
      lambda[i] = mine ? query.lambda[row] : 1;
    });
    parts.push({
      query: {
        images,
        shape: [n, h, w, c],
        partner,
        lambda,
        ...(query.rows
          ? {
              rows: {
                dataset: query.rows.dataset,
                rows: Uint32Array.from(members, (row) => query.rows?.rows[row] ?? 0),
              },
            }
          : {}),
      },
      from,
      own,
    });
  }
  return parts;
}
