import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeQueries, packQueries, splitLogits, splitQuery } from './query-pack.js';
import type { MixedBatchQuery } from './teacher-source.js';

/** A batch of `b` 2x2x1 images whose pixels start at `first`, mixed in reverse order. */
function batch(b: number, first: number, rows?: { dataset: string; from: number }) {
  const query: MixedBatchQuery = {
    images: Uint8Array.from({ length: b * 4 }, (_, i) => first + i),
    shape: [b, 2, 2, 1],
    partner: Int32Array.from({ length: b }, (_, i) => b - 1 - i),
    lambda: Float32Array.from({ length: b }, (_, i) => 0.5 + i / 100),
  };
  if (rows) {
    query.rows = {
      dataset: rows.dataset,
      rows: Uint32Array.from({ length: b }, (_, i) => rows.from + i),
    };
  }
  return query;
}

test('mergeQueries lays batches end to end, each partner pointing into its own batch', () => {
  const a = batch(2, 0, { dataset: 'sha256:x', from: 10 });
  const b = batch(3, 100, { dataset: 'sha256:x', from: 50 });
  const merged = mergeQueries([a, b]);
  assert.deepEqual(merged.shape, [5, 2, 2, 1]);
  assert.deepEqual([...merged.images.subarray(0, 8)], [...a.images]);
  assert.deepEqual([...merged.images.subarray(8)], [...b.images]);
  assert.deepEqual([...merged.partner], [1, 0, 4, 3, 2]);
  assert.deepEqual([...merged.lambda], [...a.lambda, ...b.lambda]);
  assert.deepEqual(merged.rows && [...merged.rows.rows], [10, 11, 50, 51, 52]);
  assert.equal(merged.rows?.dataset, 'sha256:x');
});

test('mergeQueries sends rows only when every batch names rows of one split', () => {
  const x = batch(2, 0, { dataset: 'sha256:x', from: 0 });
  assert.equal(
    mergeQueries([x, batch(2, 8, { dataset: 'sha256:y', from: 0 })]).rows,
    undefined,
  );
  assert.equal(mergeQueries([x, batch(2, 8)]).rows, undefined);
  assert.equal(mergeQueries([x]), x);
});

test('mergeQueries refuses batches of other image shapes or inconsistent lengths, naming them', () => {
  const odd: MixedBatchQuery = { ...batch(2, 0), shape: [2, 1, 4, 1] };
  assert.throws(
    () => mergeQueries([batch(2, 0), odd]),
    /queries\[1\]\.shape: expected \[B, 2, 2, 1\] like queries\[0\], got \[2, 1, 4, 1\]/,
  );
  const short: MixedBatchQuery = { ...batch(2, 0), lambda: new Float32Array(1) };
  assert.throws(
    () => mergeQueries([batch(2, 0), short]),
    /queries\[1\]: expected 2 partners, 2 lambdas and 8 pixels .* got 2, 1 and 8/,
  );
  assert.throws(() => mergeQueries([]), /expected at least one/);
});

test("splitLogits gives each batch its own rows' logits, in order", () => {
  const queries = [batch(2, 0), batch(3, 0)];
  const logits = Float32Array.from({ length: 5 * 3 }, (_, i) => i);
  const [first, second] = splitLogits(logits, queries);
  assert.deepEqual([...first], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...second], [6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.throws(() => splitLogits(new Float32Array(7), queries), /5 rows, got 7 values/);
});

test('packQueries keeps whole batches within the rows a request may hold', () => {
  const four = [batch(128, 0), batch(128, 0), batch(128, 0), batch(128, 0)];
  const sizes = (packs: MixedBatchQuery[][]) => packs.map((p) => p.length);
  assert.deepEqual(sizes(packQueries(four, 512)), [4]);
  assert.deepEqual(sizes(packQueries(four, 384)), [3, 1]);
  assert.deepEqual(sizes(packQueries(four, 256)), [2, 2]);
  assert.deepEqual(sizes(packQueries(four, 300)), [2, 2]);
  assert.deepEqual(sizes(packQueries(four, 100)), [1, 1, 1, 1]);
  assert.deepEqual(packQueries([], 512), []);
});

test('splitQuery: each part holds its rows in order, then their outside partners, mixed with nothing', () => {
  const q = batch(5, 0, { dataset: 'sha256:x', from: 20 });
  // Partners (reversed): 4 3 2 1 0.
  const parts = splitQuery(q, 4);
  assert.deepEqual(
    parts.map((p) => [p.from, p.own, p.query.lambda.length]),
    [
      [0, 2, 4],
      [2, 2, 3],
      [4, 1, 2],
    ],
  );
  for (const part of parts) {
    const { query } = part;
    assert.ok(query.lambda.length <= 4);
    for (let i = 0; i < query.lambda.length; i++) {
      const pixels = [...query.images.subarray(i * 4, i * 4 + 4)];
      const partnerPixels = [
        ...query.images.subarray(query.partner[i] * 4, query.partner[i] * 4 + 4),
      ];
      if (i < part.own) {
        // The row and its partner carry the same images and lambda as in the query.
        const row = part.from + i;
        assert.deepEqual(pixels, [...q.images.subarray(row * 4, row * 4 + 4)]);
        const p = q.partner[row];
        assert.deepEqual(partnerPixels, [...q.images.subarray(p * 4, p * 4 + 4)]);
        assert.equal(query.lambda[i], q.lambda[row]);
      } else {
        assert.equal(query.partner[i], i);
        assert.equal(query.lambda[i], 1);
      }
    }
  }
  // Row numbers follow their rows: part 1 holds rows 2, 3 and partners 2->2, 3->1.
  assert.deepEqual(parts[1].query.rows && [...parts[1].query.rows.rows], [22, 23, 21]);
  assert.throws(() => splitQuery(q, 1), /maxRows: expected an integer >= 2, got 1/);
});
