import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatcherError, type BatchInfer, DynamicBatcher } from './batcher.js';

/** A fake model: each row of 2 inputs gives [sum, batch rows]. Records calls. */
function fakeModel() {
  const calls: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const infer: BatchInfer = async (input, rows) => {
    calls.push(rows);
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await new Promise((r) => setImmediate(r));
    concurrent--;
    const out = new Float32Array(rows * 2);
    for (let i = 0; i < rows; i++) {
      out[2 * i] = input[2 * i] + input[2 * i + 1];
      out[2 * i + 1] = rows;
    }
    return out;
  };
  return { infer, calls, maxConcurrent: () => maxConcurrent };
}

/** `rows` rows whose sums are first, first+1, ... */
function rowsFrom(first: number, rows: number): Float32Array {
  const out = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) out[2 * i] = first + i;
  return out;
}

function sums(output: Float32Array): number[] {
  return Array.from({ length: output.length / 2 }, (_, i) => output[2 * i]);
}

/** A model that waits until released, to hold an inference open. */
function gatedModel() {
  const gates: (() => void)[] = [];
  const calls: number[] = [];
  const infer: BatchInfer = async (_input, rows) => {
    calls.push(rows);
    await new Promise<void>((r) => gates.push(r));
    return new Float32Array(rows).fill(1);
  };
  const opened = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
  };
  return { infer, calls, release: () => gates.shift()?.(), opened };
}

const options = { maxBatch: 8, maxDelayMs: 20, queueLimit: 64, rowSize: 2 };

test('one request gets its own rows back with timings', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, options);
  const result = await batcher.submit(rowsFrom(10, 3), 3);
  assert.deepEqual(sums(result.output), [10, 11, 12]);
  assert.equal(result.batchSize, 3);
  assert.ok(result.queueMs >= 0 && result.inferenceMs >= 0);
  assert.deepEqual(model.calls, [3]);
});

test('requests submitted together are coalesced and each gets its own slice', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, options);
  const results = await Promise.all([
    batcher.submit(rowsFrom(0, 2), 2),
    batcher.submit(rowsFrom(100, 3), 3),
    batcher.submit(rowsFrom(200, 1), 1),
  ]);
  assert.deepEqual(model.calls, [6]);
  assert.deepEqual(sums(results[0].output), [0, 1]);
  assert.deepEqual(sums(results[1].output), [100, 101, 102]);
  assert.deepEqual(sums(results[2].output), [200]);
  for (const r of results) assert.equal(r.batchSize, 6);
});

test('the model may keep the input of a batch only when nobody else holds it', async () => {
  const handedOver: boolean[] = [];
  const inputs: Float32Array[] = [];
  const batcher = new DynamicBatcher(async (input, rows, handOver) => {
    handedOver.push(handOver);
    inputs.push(input);
    return new Float32Array(rows);
  }, options);
  const kept = rowsFrom(0, 2);
  const given = rowsFrom(10, 2);
  await batcher.submit(kept, 2);
  await batcher.submit(given, 2, undefined, true);
  // Two requests together run as a batch the batcher assembled: its own array.
  const a = rowsFrom(20, 1);
  const b = rowsFrom(30, 1);
  await Promise.all([batcher.submit(a, 1), batcher.submit(b, 1)]);
  assert.deepEqual(handedOver, [false, true, true]);
  assert.equal(inputs[0], kept);
  assert.equal(inputs[1], given);
  assert.notEqual(inputs[2], a);
  assert.notEqual(inputs[2], b);
});

test('batches hold at most maxBatch rows, in arrival order, one at a time', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, options);
  const sizes = [5, 3, 4, 4, 2, 7];
  let first = 0;
  const pending = sizes.map((rows) => {
    const p = batcher.submit(rowsFrom(first, rows), rows);
    first += 1000;
    return p;
  });
  const results = await Promise.all(pending);
  assert.deepEqual(model.calls, [8, 8, 2, 7]);
  assert.equal(model.maxConcurrent(), 1);
  results.forEach((r, i) => {
    assert.deepEqual(
      sums(r.output),
      Array.from({ length: sizes[i] }, (_, j) => i * 1000 + j),
    );
  });
  assert.deepEqual(batcher.stats(), {
    queuedRows: 0,
    running: false,
    batches: 4,
    rows: 25,
    refused: 0,
    aborted: 0,
    peakQueuedRows: 25,
  });
});

test('a full batch does not wait for the delay window', async () => {
  const model = fakeModel();
  // An hour-long window: the test only finishes if a full batch runs at once.
  const batcher = new DynamicBatcher(model.infer, { ...options, maxDelayMs: 3_600_000 });
  const result = await batcher.submit(rowsFrom(0, 8), 8);
  assert.equal(result.batchSize, 8);
});

test('a batch that reaches targetRows takes no more requests and does not wait', async () => {
  const model = fakeModel();
  // An hour-long window: only batches that are full (targetRows) ever run.
  const batcher = new DynamicBatcher(model.infer, {
    ...options,
    targetRows: 4,
    maxDelayMs: 3_600_000,
  });
  const results = await Promise.all([
    batcher.submit(rowsFrom(0, 2), 2),
    batcher.submit(rowsFrom(10, 2), 2),
    batcher.submit(rowsFrom(20, 3), 3),
    batcher.submit(rowsFrom(30, 1), 1),
  ]);
  // 2 + 2 fill the first batch; 3 + 1 the second (maxBatch 8 would take all 8).
  assert.deepEqual(model.calls, [4, 4]);
  assert.deepEqual(
    results.map((r) => sums(r.output)),
    [[0, 1], [10, 11], [20, 21, 22], [30]],
  );
  assert.deepEqual(
    results.map((r) => r.batchSize),
    [4, 4, 4, 4],
  );
});

test('below targetRows a batch still waits for company; a larger request runs whole', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, { ...options, targetRows: 4 });
  const [small, large] = await Promise.all([
    batcher.submit(rowsFrom(0, 1), 1),
    batcher.submit(rowsFrom(5, 6), 6),
  ]);
  // 1 row is below targetRows, so the 6-row request joins it (7 <= maxBatch).
  assert.deepEqual(model.calls, [7]);
  assert.deepEqual(sums(small.output), [0]);
  assert.deepEqual(sums(large.output), [5, 6, 7, 8, 9, 10]);
});

test('a request larger than maxBatch runs as a batch of its own', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, options);
  const [a, b] = await Promise.all([
    batcher.submit(rowsFrom(0, 12), 12),
    batcher.submit(rowsFrom(50, 2), 2),
  ]);
  assert.deepEqual(model.calls, [12, 2]);
  assert.equal(a.batchSize, 12);
  assert.equal(b.batchSize, 2);
});

test('a full queue refuses with queue-full and recovers once it drains', async () => {
  const model = gatedModel();
  const batcher = new DynamicBatcher(model.infer, { ...options, queueLimit: 10 });
  const running = batcher.submit(rowsFrom(0, 8), 8);
  await model.opened(); // the first batch is inside the model now
  const waiting = batcher.submit(rowsFrom(0, 8), 8);
  await assert.rejects(batcher.submit(rowsFrom(0, 3), 3), (err: unknown) => {
    assert.ok(err instanceof BatcherError);
    assert.equal(err.reason, 'queue-full');
    assert.match(err.message, /8 rows waiting \+ 3 requested > limit 10/);
    return true;
  });
  const fits = batcher.submit(rowsFrom(0, 2), 2);
  assert.equal(batcher.stats().queuedRows, 10);
  model.release();
  await running;
  for (let i = 0; i < 2; i++) {
    await model.opened();
    model.release();
  }
  await Promise.all([waiting, fits]);
  // 8 + 2 would exceed maxBatch, so the queued requests run as two batches.
  assert.deepEqual(model.calls, [8, 8, 2]);
  assert.equal(batcher.stats().queuedRows, 0);
});

test('an aborted submission leaves the queue unrun; one inside the model is answered no more', async () => {
  const model = gatedModel();
  const batcher = new DynamicBatcher(model.infer, { ...options, queueLimit: 10 });
  const insideController = new AbortController();
  const inside = batcher.submit(rowsFrom(0, 8), 8, insideController.signal);
  await model.opened();
  const waitingController = new AbortController();
  const waiting = batcher.submit(rowsFrom(0, 6), 6, waitingController.signal);
  const kept = batcher.submit(rowsFrom(50, 2), 2);
  assert.equal(batcher.stats().queuedRows, 8);
  waitingController.abort(new BatcherError('deadline', 'deadline: too late'));
  await assert.rejects(waiting, (err: unknown) => {
    assert.ok(err instanceof BatcherError);
    assert.equal(err.reason, 'deadline');
    assert.equal(err.message, 'deadline: too late');
    return true;
  });
  assert.equal(batcher.stats().queuedRows, 2);
  insideController.abort();
  await assert.rejects(
    inside,
    (err: unknown) => err instanceof BatcherError && err.reason === 'cancelled',
  );
  const late = new AbortController();
  late.abort();
  await assert.rejects(
    batcher.submit(rowsFrom(0, 1), 1, late.signal),
    (err: unknown) => err instanceof BatcherError && err.reason === 'cancelled',
  );
  model.release();
  await model.opened();
  model.release();
  assert.equal((await kept).output.length, 2);
  // The aborted 6 rows never reached the model.
  assert.deepEqual(model.calls, [8, 2]);
  assert.equal(batcher.stats().aborted, 3);
  assert.equal(batcher.stats().queuedRows, 0);
});

test('refused submissions and the peak of the queue are counted', async () => {
  const model = gatedModel();
  const batcher = new DynamicBatcher(model.infer, { ...options, queueLimit: 4 });
  const first = batcher.submit(rowsFrom(0, 4), 4);
  await model.opened();
  const second = batcher.submit(rowsFrom(0, 3), 3);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(batcher.submit(rowsFrom(0, 2), 2), /queue full/);
  }
  assert.equal(batcher.stats().refused, 3);
  assert.equal(batcher.stats().peakQueuedRows, 4);
  model.release();
  await first;
  await model.opened();
  model.release();
  await second;
  assert.equal(batcher.stats().peakQueuedRows, 4);
  assert.equal(batcher.stats().refused, 3);
});

test('a failing inference rejects its batch only; the next batch is served', async () => {
  let fail = true;
  const batcher = new DynamicBatcher(async (input, rows) => {
    if (fail) {
      fail = false;
      throw new Error('out of memory');
    }
    return input.slice(0, rows);
  }, options);
  const failed = await Promise.allSettled([
    batcher.submit(rowsFrom(0, 1), 1),
    batcher.submit(rowsFrom(0, 1), 1),
  ]);
  for (const r of failed) {
    assert.equal(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason;
    assert.ok(err instanceof BatcherError);
    assert.equal(err.reason, 'inference');
    assert.equal(err.message, 'inference failed: out of memory');
  }
  const ok = await batcher.submit(rowsFrom(7, 1), 1);
  assert.deepEqual([...ok.output], [7]);
});

test('an output that is not whole rows is refused', async () => {
  const batcher = new DynamicBatcher(async () => new Float32Array(5), options);
  await assert.rejects(batcher.submit(rowsFrom(0, 2), 2), (err: unknown) => {
    assert.ok(err instanceof BatcherError);
    assert.equal(
      err.message,
      'model output: expected a multiple of 2 values (one row per input), got 5',
    );
    return true;
  });
});

test('wrong input sizes are invalid; closing refuses new work but finishes queued', async () => {
  const model = fakeModel();
  const batcher = new DynamicBatcher(model.infer, { ...options, maxDelayMs: 3_600_000 });
  await assert.rejects(
    batcher.submit(new Float32Array(5), 2),
    (err: unknown) => err instanceof BatcherError && err.reason === 'invalid',
  );
  const queued = batcher.submit(rowsFrom(3, 1), 1);
  batcher.close();
  await assert.rejects(
    batcher.submit(rowsFrom(0, 1), 1),
    (err: unknown) => err instanceof BatcherError && err.reason === 'closed',
  );
  assert.deepEqual(sums((await queued).output), [3]);
  await batcher.idle();
  assert.deepEqual(batcher.stats().running, false);
});

test('options are checked', () => {
  const infer: BatchInfer = async (x) => x;
  assert.throws(
    () => new DynamicBatcher(infer, { ...options, maxBatch: 0 }),
    /maxBatch: expected an integer >= 1, got 0/,
  );
  assert.throws(
    () => new DynamicBatcher(infer, { ...options, maxDelayMs: -1 }),
    /maxDelayMs: expected a number >= 0, got -1/,
  );
  assert.throws(
    () => new DynamicBatcher(infer, { ...options, targetRows: 0 }),
    /targetRows: expected an integer >= 1, got 0/,
  );
  assert.throws(
    () => new DynamicBatcher(infer, { ...options, maxInFlight: 0 }),
    /maxInFlight: expected an integer >= 1, got 0/,
  );
});

/** A gated model that answers each row with the first input value of the row. */
function gatedEcho() {
  const gates: (() => void)[] = [];
  const calls: number[] = [];
  const infer: BatchInfer = async (input, rows) => {
    calls.push(rows);
    await new Promise<void>((r) => gates.push(r));
    return Float32Array.from({ length: rows }, (_, i) => input[2 * i]);
  };
  /** A few turns of the event loop: every batch that may start has started. */
  const turn = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    infer,
    calls,
    waiting: () => gates.length,
    release: () => gates.shift()?.(),
    turn,
  };
}

test('with maxInFlight 2 a full batch is handed over behind the running one', async () => {
  const model = gatedEcho();
  // An hour-long window: batches that are not full only run when nothing else does.
  const batcher = new DynamicBatcher(model.infer, {
    ...options,
    maxDelayMs: 3_600_000,
    maxInFlight: 2,
  });
  const first = batcher.submit(rowsFrom(0, 8), 8);
  const second = batcher.submit(rowsFrom(100, 8), 8);
  const third = batcher.submit(rowsFrom(200, 8), 8);
  await model.turn();
  assert.deepEqual(model.calls, [8, 8], 'two full batches in flight, the third waits');
  assert.equal(batcher.stats().queuedRows, 8);
  model.release();
  assert.deepEqual(Array.from((await first).output), [0, 1, 2, 3, 4, 5, 6, 7]);
  await model.turn();
  assert.deepEqual(model.calls, [8, 8, 8], 'the third goes ahead once one ends');
  model.release();
  model.release();
  assert.equal((await second).output[0], 100);
  assert.equal((await third).output[7], 207);
});

test('behind a running batch a partial one waits, gathering company', async () => {
  const model = gatedEcho();
  const batcher = new DynamicBatcher(model.infer, { ...options, maxInFlight: 2 });
  const running = batcher.submit(rowsFrom(0, 8), 8);
  await model.turn();
  const a = batcher.submit(rowsFrom(10, 2), 2);
  const b = batcher.submit(rowsFrom(20, 3), 3);
  // Well past the 20 ms window: still nothing behind the running batch.
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(model.calls, [8]);
  model.release();
  await running;
  while (model.waiting() === 0) await model.turn();
  assert.deepEqual(model.calls, [8, 5], 'the two waiting requests run as one batch');
  model.release();
  assert.deepEqual(Array.from((await a).output), [10, 11]);
  assert.deepEqual(Array.from((await b).output), [20, 21, 22]);
  await batcher.idle();
  assert.equal(batcher.stats().running, false);
});

test('a batch handed over behind another counts its wait for it as queueing', async () => {
  const model = gatedEcho();
  const batches: [number, number][] = [];
  const batcher = new DynamicBatcher(model.infer, {
    ...options,
    maxInFlight: 2,
    onBatch: (rows, inferenceMs) => batches.push([rows, inferenceMs]),
  });
  const first = batcher.submit(rowsFrom(0, 8), 8);
  const second = batcher.submit(rowsFrom(100, 8), 8);
  await model.turn();
  assert.deepEqual(model.calls, [8, 8]);
  await new Promise((r) => setTimeout(r, 40));
  model.release();
  await first;
  model.release();
  const late = await second;
  // Handed over at once, it began only when the first batch ended, >= 40 ms on.
  assert.ok(
    late.queueMs >= 39,
    `queueMs ${late.queueMs}: expected the wait behind the first`,
  );
});
