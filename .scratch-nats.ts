import { z } from 'zod';
import { createLogger } from '@vicinal/telemetry';
import { connectBus, startNatsServer, publishTeacher, fetchTeacher, registerTeacher, findTeachers, submitJob, names, consumeJobs, putResult, publishEvent, putArtifact, getArtifact, getResult } from '@vicinal/bus';
const users = [
  { user: 'coord', password: 'c', role: 'coordinator' as const },
  { user: 'teach', password: 't', role: 'teacher' as const },
  { user: 'stud', password: 's', role: 'student' as const },
];
const srv = await startNatsServer({ users, trace: true });
const log = createLogger('x', 'silent');
try {
  const coord = await connectBus(srv.url, { name: 'coord', user: 'coord', pass: 'c' });
  const meta = { name: 't1', version: '1', architecture: 'a', parameters: 1, inputShape: [1,1,1] as [number,number,number], numClasses: 2, classNames: ['a','b'], mean: [0], std: [1], dataset: 'd' };
  await publishTeacher(coord, meta, new Uint8Array(20_000_000).fill(3));
  const teacher = await connectBus(srv.url, { name: 'teach', user: 'teach', pass: 't', topology: 'bind' });
  const got = await fetchTeacher(teacher, 't1');
  console.log('teacher fetched', got.artifact.length);
  const stop = await registerTeacher(teacher, { instance: 'i1', address: '127.0.0.1:1', model: 't1', version: '1', architecture: 'a', backend: 'cpu', startedAt: 'now' }, 1000, (e) => console.log('hb err', e.message));
  const student = await connectBus(srv.url, { name: 'stud', user: 'stud', pass: 's', topology: 'bind' });
  console.log('student finds', (await findTeachers(student, 't1')).length);
  await stop();
  console.log('student finds after stop', (await findTeachers(student, 't1')).length);
  await submitJob(coord, names.distillSubject, 'j0', { bad: 1 });
  await submitJob(coord, names.distillSubject, 'j1', { n: 1 });
  const n = await consumeJobs(student, { schema: z.object({ n: z.number() }), log, pollMs: 1000, signal: AbortSignal.timeout(5000), maxJobs: 1, handler: async (job) => {
    await putResult(student, 's1', 'j1', { ok: job.n });
    await publishEvent(student, 's1', { type: 'job-failed', jobId: 'j1', error: 'x' });
    await putArtifact(student, 'student-j1', new Uint8Array(300_000).fill(1));
    await putArtifact(student, 'student-j1', new Uint8Array(300_000).fill(2));
    const back = await getArtifact(student, 'student-j1');
    console.log('student artifact back', back?.length, back?.[0]);
  }});
  console.log('handled', n, await getResult(coord, 's1', 'j1'));
  try { await submitJob(teacher, names.distillSubject, 'j2', { n: 2 }); console.log('teacher submitted?!'); } catch (e) { console.log('teacher submit refused:', (e as Error).name, (e as Error).message, (e as Error).cause); }
  try { await submitJob(student, names.distillSubject, 'j3', { n: 2 }); console.log('student submitted?!'); } catch (e) { console.log('student submit refused:', (e as Error).name, (e as Error).message); }
  for (const b of [coord, teacher, student]) await b.close();
  try { await connectBus(srv.url, { name: 'anon' }); console.log('anon connected?!'); } catch (e) { console.log('anon:', (e as Error).message); }
  try { await connectBus(srv.url, { name: 'bad', user: 'stud', pass: 'wrong' }); console.log('bad connected?!'); } catch (e) { console.log('bad:', (e as Error).message); }
} finally {
  const l = srv.log();
  await srv.stop();
  console.log(l.split('\n').filter((x) => /Violation|violation/.test(x)).join('\n'));
  const used = new Map<string, Set<string>>();
  for (const line of l.split('\n')) {
    const m = /"v3.4.0:nats.js:(\w+)" - <<- \[(PUB|HPUB|SUB) ([^\s\]]+)/.exec(line);
    if (!m) continue;
    const k = m[1] + ' ' + (m[2] === 'SUB' ? 'SUB' : 'PUB');
    if (!used.has(k)) used.set(k, new Set());
    used.get(k)!.add(m[3].replace(/_INBOX\.[^\s]+/, '_INBOX.*').replace(/\.[A-Za-z0-9]{22}(\.|$)/g, '.<id>$1'));
  }
  for (const [k, v] of used) if (!k.startsWith('coord')) console.log(k, [...v].sort().join('\n   '));
}
