import assert from 'node:assert/strict';
import { type Bus, JOB_MAX_DELIVER, names } from '@vicinal/bus';

/**
 * Plays workers killed mid-job at every delivery of the job at the head of
 * the queue: takes each of its JOB_MAX_DELIVER deliveries and answers none
 * (no ack, no failure event). Then pulls once more, as a worker still
 * running would, and finds nothing: nats-server announces the job out of
 * deliveries once the last ack wait has run out. Returns the job's stream
 * sequence (its copy).
 */
export async function loseEveryDelivery(bus: Bus, jobId: string): Promise<number> {
  const consumer = await bus.js.consumers.get(names.jobsStream, names.studentsConsumer);
  let sequence = 0;
  for (let d = 1; d <= JOB_MAX_DELIVER; d++) {
    const msg = await consumer.next({ expires: 5000 });
    assert.ok(msg, `delivery ${d} of ${jobId} did not come`);
    assert.equal(msg.json<{ jobId: string }>().jobId, jobId);
    assert.equal(msg.info.deliveryCount, d);
    sequence = msg.seq;
  }
  assert.equal(await consumer.next({ expires: 2500 }), null);
  return sequence;
}
