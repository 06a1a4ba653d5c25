import { connectBus, startNatsServer } from '@vicinal/bus';
import { createTestPki } from './test/support/certificates.js';
const pki = createTestPki();
const server = await startNatsServer({ users: [{ user: 'student', password: 's', role: 'student' }], tls: { cert: pki.server.cert.toString(), key: pki.server.key.toString(), ca: pki.ca.cert.toString() } });
const cases: Record<string, any> = {
  plain: undefined,
  nocert: { ca: pki.ca.cert },
  otherca: { ca: pki.otherCa.cert, cert: pki.client.cert, key: pki.client.key },
  stranger: { ca: pki.ca.cert, cert: pki.strangerClient.cert, key: pki.strangerClient.key },
};
for (const [name, tls] of Object.entries(cases)) {
  const t = Date.now();
  try { await connectBus(server.url, { name, user: 'student', pass: 's', topology: "bind", tls, connectTimeoutMs: 2000 }); console.log(name, 'connected?!'); }
  catch (e) { console.log(name, Date.now() - t, 'ms', (e as Error).message); }
}

console.log(server.log().split('\n').filter(l=>/handshake/.test(l)).join('\n'));
await server.stop(); pki.remove();
