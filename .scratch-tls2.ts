import { TeacherClient } from '@vicinal/wire';
import { createTestPki } from './test/support/certificates.js';
import { startTinyTeacher, TINY } from './test/support/tiny-teacher.js';
const pki = createTestPki();
const s = await startTinyTeacher({ tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
const t = await startTinyTeacher({ tls: { cert: pki.server.cert, key: pki.server.key } });
const cases: Record<string, [string, any]> = {
  nocert: [s.address, { ca: pki.ca.cert }],
  stranger: [s.address, { ca: pki.ca.cert, cert: pki.strangerClient.cert, key: pki.strangerClient.key }],
  otherca: [t.address, { ca: pki.otherCa.cert }],
  name: [t.address, { ca: pki.ca.cert, serverName: 'x.test' }],
  plain: [t.address, undefined],
};
for (const [n, [addr, tls]] of Object.entries(cases)) {
  const t0 = Date.now();
  try { const c = await TeacherClient.connect(addr, { tls, connectTimeoutMs: 3000 }); console.log(n, 'connected after', Date.now()-t0);
    try { await c.describe(); console.log(n, 'describe ok?!'); } catch (e) { console.log(n, 'call:', (e as Error).message); } c.close(); }
  catch (e) { console.log(n, Date.now()-t0, 'connect:', (e as Error).message); }
}
await s.stop(0); await t.stop(0); pki.remove();
