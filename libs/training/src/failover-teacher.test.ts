import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { TeacherCallError, TlsConfigError } from '@vicinal/wire';
import {
  type FailoverOptions,
  FailoverTeacher,
  TeacherUnavailableError,
} from './failover-teacher.js';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/** A query tagged by its first lambda, so answers can be matched to questions. */
function query(tag: number): MixedBatchQuery {
  return {
    images: new Uint8Array(4),
    shape: [1, 2, 2, 1],
    partner: Int32Array.of(0),
    lambda: Float32Array.of(tag),
  };
}

type Behaviour = (q: MixedBatchQuery, call: number) => Promise<Float32Array>;

/** A scripted teacher: answers [tag, id] unless its behaviour says otherwise. */
class FakeTeacher implements TeacherSource {
  readonly kind = 'remote';
  readonly model = 'm';
  calls = 0;
  closed = false;
  constructor(
    readonly address: string,
    readonly id: number,
    private readonly behaviour?: Behaviour,
  ) {}
  async softLabels(q: MixedBatchQuery): Promise<Float32Array> {
    this.calls += 1;
    if (this.closed) throw new TeacherCallError(status.CANCELLED, 'Call cancelled');
    if (this.behaviour) return this.behaviour(q, this.calls);
    return Float32Array.of(q.lambda[0], this.id);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const unavailable = () => new TeacherCallError(status.UNAVAILABLE, 'connection dropped');

/** A failover over fixed teachers: the resolver lists `live()` minus exclusions. */
function setup(
  teachers: FakeTeacher[],
  live: () => string[] = () => teachers.map((t) => t.address),
  extra: Partial<FailoverOptions> = {},
) {
  const connects: string[] = [];
  const excludes: string[][] = [];
  const options: FailoverOptions = {
    model: 'm',
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    deadlineMs: 5000,
    resolve: async (exclude) => {
      excludes.push([...exclude]);
      return live().find((a) => !exclude.has(a)) ?? null;
    },
    connect: async (address) => {
      connects.push(address);
      const t = teachers.find((x) => x.address === address);
      if (!t) throw new TeacherCallError(status.UNAVAILABLE, `${address} refused`);
      t.closed = false;
      return t;
    },
    ...extra,
  };
  return { options, connects, excludes };
}

describe('FailoverTeacher', () => {
  test('several batches fail over together: every answer comes from the teacher that took over', async () => {
    // "a" answers its first query and then drops every call: the second of a
    // pair of batches fails after the first was answered.
    const a = new FakeTeacher('a:1', 1, async (q, call) => {
      if (call >= 2) throw unavailable();
      return Float32Array.of(q.lambda[0], 1);
    });
    const b = new FakeTeacher('b:1', 2);
    const { options, connects } = setup([a, b]);
    const teacher = await FailoverTeacher.open(options);
    const answers = await teacher.softLabelsMany([query(0.5), query(0.25)]);
    assert.deepEqual(
      answers.map((l) => [...l]),
      [
        [0.5, 2],
        [0.25, 2],
      ],
    );
    assert.deepEqual(connects, ['a:1', 'b:1']);
    assert.equal(b.calls, 2);
    assert.equal(teacher.stats().answered, 2);
    // A source that packs batches itself is handed all of them at once.
    const packed: number[] = [];
    const c = Object.assign(new FakeTeacher('c:1', 3), {
      async softLabelsMany(qs: readonly MixedBatchQuery[]) {
        packed.push(qs.length);
        return qs.map((q) => Float32Array.of(q.lambda[0], 3));
      },
    });
    const viaC = await FailoverTeacher.open(setup([c]).options);
    const three = await viaC.softLabelsMany([query(0.5), query(0.25), query(0.125)]);
    assert.deepEqual(
      three.map((l) => l[0]),
      [0.5, 0.25, 0.125],
    );
    assert.deepEqual(packed, [3]);
    assert.equal(c.calls, 0);
    await teacher.close();
    await viaC.close();
  });

  test('a query that fails with UNAVAILABLE is sent again to another teacher', async () => {
    const a = new FakeTeacher('a:1', 1, async (q, call) => {
      if (call >= 2) throw unavailable(); // dies after one answer
      return Float32Array.of(q.lambda[0], 1);
    });
    const b = new FakeTeacher('b:1', 2);
    // The resolver keeps listing "a" (its registry entry has not expired yet).
    const { options, connects, excludes } = setup([a, b]);
    const teacher = await FailoverTeacher.open(options);
    assert.deepEqual([...(await teacher.softLabels(query(0.1)))], [Math.fround(0.1), 1]);
    assert.deepEqual([...(await teacher.softLabels(query(0.2)))], [Math.fround(0.2), 2]);
    assert.deepEqual([...(await teacher.softLabels(query(0.3)))], [Math.fround(0.3), 2]);
    assert.deepEqual(connects, ['a:1', 'b:1']);
    assert.deepEqual(excludes.at(-1), ['a:1'], 'the failed address was skipped');
    assert.equal(a.closed, true);
    assert.equal(teacher.address, 'b:1');
    assert.deepEqual(teacher.stats(), {
      answered: 3,
      retries: 1,
      failovers: 1,
      addresses: ['a:1', 'b:1'],
    });
    await teacher.close();
  });

  test('CANCELLED and DEADLINE_EXCEEDED also switch teachers', async () => {
    for (const code of [status.CANCELLED, status.DEADLINE_EXCEEDED]) {
      const a = new FakeTeacher('a:1', 1, async () => {
        throw new TeacherCallError(code, 'gone');
      });
      const b = new FakeTeacher('b:1', 2);
      const { options } = setup([a, b]);
      const teacher = await FailoverTeacher.open(options);
      assert.deepEqual([...(await teacher.softLabels(query(0.5)))], [0.5, 2]);
      await teacher.close();
    }
  });

  test('RESOURCE_EXHAUSTED is retried on the same teacher', async () => {
    const a = new FakeTeacher('a:1', 1, async (q, call) => {
      if (call <= 3) throw new TeacherCallError(status.RESOURCE_EXHAUSTED, 'queue full');
      return Float32Array.of(q.lambda[0], 1);
    });
    const { options, connects } = setup([a, new FakeTeacher('b:1', 2)]);
    const teacher = await FailoverTeacher.open(options);
    assert.deepEqual([...(await teacher.softLabels(query(0.25)))], [0.25, 1]);
    assert.equal(a.calls, 4);
    assert.deepEqual(connects, ['a:1']);
    assert.equal(teacher.stats().retries, 3);
    await teacher.close();
  });

  test('other errors reject at once, without a retry', async () => {
    const a = new FakeTeacher('a:1', 1, async () => {
      throw new TeacherCallError(
        status.INVALID_ARGUMENT,
        'mix.lambda: out of range',
        'mix.lambda',
      );
    });
    const { options, connects } = setup([a, new FakeTeacher('b:1', 2)]);
    const teacher = await FailoverTeacher.open(options);
    await assert.rejects(
      teacher.softLabels(query(0.25)),
      /INVALID_ARGUMENT: mix\.lambda/,
    );
    assert.equal(a.calls, 1);
    assert.deepEqual(connects, ['a:1']);
    await teacher.close();
    // A TLS setup that cannot work is not retried either.
    const tls = setup([], undefined, {
      resolve: async () => 'a:1',
      connect: async () => {
        throw new TlsConfigError('tls.ca: expected a PEM certificate');
      },
    });
    await assert.rejects(FailoverTeacher.open(tls.options), TlsConfigError);
  });

  test('queries in flight when a teacher dies share one reconnection', async () => {
    let release: () => void = () => {};
    const dying = new Promise<void>((r) => {
      release = r;
    });
    const a = new FakeTeacher('a:1', 1, async () => {
      await dying;
      throw unavailable();
    });
    const b = new FakeTeacher('b:1', 2);
    const { options, connects } = setup([a, b]);
    const teacher = await FailoverTeacher.open(options);
    const answers = [1, 2, 3, 4].map((i) => teacher.softLabels(query(i)));
    release();
    const got = await Promise.all(answers);
    assert.deepEqual(
      got.map((x) => [...x]),
      [
        [1, 2],
        [2, 2],
        [3, 2],
        [4, 2],
      ],
    );
    assert.deepEqual(connects, ['a:1', 'b:1']);
    await teacher.close();
  });

  test('with no live teacher it waits, then uses the one that appears', async () => {
    const a = new FakeTeacher('a:1', 1, async () => {
      throw unavailable();
    });
    const b = new FakeTeacher('b:1', 2);
    let resolves = 0;
    const { options } = setup([a, b], () => {
      resolves += 1;
      return resolves < 6 ? ['a:1'] : ['a:1', 'b:1'];
    });
    const teacher = await FailoverTeacher.open(options);
    assert.deepEqual([...(await teacher.softLabels(query(0.75)))], [0.75, 2]);
    assert.ok(resolves >= 6);
    await teacher.close();
  });

  test('a query unanswered past the deadline fails with the reason', async () => {
    const a = new FakeTeacher('a:1', 1, async () => {
      throw unavailable();
    });
    const { options } = setup([a], undefined, { deadlineMs: 100 });
    const teacher = await FailoverTeacher.open(options);
    await assert.rejects(teacher.softLabels(query(0.5)), (err: Error) => {
      assert.ok(err instanceof TeacherUnavailableError);
      assert.match(err.message, /no teacher for model "m" answered within 100 ms/);
      assert.match(err.message, /no live teacher for model "m" \(skipping failed a:1\)/);
      return true;
    });
    await teacher.close();
  });

  test('open fails when no teacher registers within the deadline', async () => {
    const { options } = setup([], () => [], { deadlineMs: 50 });
    await assert.rejects(
      FailoverTeacher.open(options),
      /connect: no teacher for model "m"/,
    );
  });

  test('close ends queries waiting for a teacher', async () => {
    const a = new FakeTeacher('a:1', 1, async () => {
      throw unavailable();
    });
    const { options } = setup([a], undefined, { initialBackoffMs: 20, maxBackoffMs: 20 });
    const teacher = await FailoverTeacher.open(options);
    const pending = teacher.softLabels(query(0.5));
    await new Promise((r) => setTimeout(r, 30));
    await teacher.close();
    await assert.rejects(pending, /teacher closed/);
  });

  test('the job signal ends queries waiting for a teacher', async () => {
    const stop = new AbortController();
    const a = new FakeTeacher('a:1', 1, async () => {
      throw unavailable();
    });
    const { options } = setup([a], undefined, { signal: stop.signal });
    const teacher = await FailoverTeacher.open(options);
    const pending = teacher.softLabels(query(0.5));
    stop.abort(new Error('received SIGTERM'));
    await assert.rejects(pending, /received SIGTERM/);
    await teacher.close();
  });
});
