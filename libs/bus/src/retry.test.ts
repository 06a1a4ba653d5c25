import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { isTransientBusError, retryTransient } from './retry.js';

// The retry rule in isolation: calls that fail as a restarting nats-server
// makes them fail are tried again within a budget; other failures are not.

test('timeouts and no-responders are transient, also as a cause; refusals are not', () => {
  assert.equal(isTransientBusError(new TimeoutError()), true);
  assert.equal(isTransientBusError(new NoRespondersError('$JS.API.INFO')), true);
  assert.equal(
    isTransientBusError(
      new RequestError('request failed', { cause: new NoRespondersError('x') }),
    ),
    true,
  );
  assert.equal(
    isTransientBusError(new Error('publish failed', { cause: new TimeoutError() })),
    true,
  );
  assert.equal(
    isTransientBusError(new Error('JetStream system temporarily unavailable')),
    true,
  );
  assert.equal(
    isTransientBusError(
      new PermissionViolationError('Permissions Violation', 'publish', 'x'),
    ),
    false,
  );
  assert.equal(isTransientBusError(new Error('stream not found')), false);
  assert.equal(isTransientBusError('timeout'), false, 'only errors');
});

test('a call failing transiently is tried again until it answers', async () => {
  let calls = 0;
  const told: string[] = [];
  const value = await retryTransient(
    'reading x',
    async () => {
      calls++;
      if (calls < 3) throw new TimeoutError();
      return 42;
    },
    { onFirstRetry: (m) => told.push(m) },
  );
  assert.equal(value, 42);
  assert.equal(calls, 3);
  assert.deepEqual(told, ['reading x: NATS did not answer (timeout); trying again']);
});

test('other errors are not retried; the budget ends the retries with a message saying so', async () => {
  let calls = 0;
  await assert.rejects(
    retryTransient('storing y', async () => {
      calls++;
      throw new Error('stream not found');
    }),
    /^Error: stream not found$/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retryTransient(
      'storing y',
      async () => {
        calls++;
        throw new TimeoutError();
      },
      { budgetMs: 600 },
    ),
    /^Error: storing y: NATS did not answer for \d+ s \(\d+ tries\): timeout$/,
  );
  assert.ok(calls >= 2, `tried ${calls} times`);
});

test('an aborted signal stops the retries at the next failure', async () => {
  const stop = new AbortController();
  let calls = 0;
  await assert.rejects(
    retryTransient(
      'z',
      async () => {
        calls++;
        stop.abort();
        throw new TimeoutError();
      },
      { signal: stop.signal },
    ),
    TimeoutError,
  );
  assert.equal(calls, 1);
});
