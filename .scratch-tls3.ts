import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { createTestPki } from './test/support/certificates.js';
import { startTinyTeacher } from './test/support/tiny-teacher.js';
const pki = createTestPki();
const s = await startTinyTeacher({ tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
const t = await startTinyTeacher({ tls: { cert: pki.server.cert, key: pki.server.key } });
const cases: Record<string, [string, grpc.ChannelCredentials]> = {
  nocert: [s.address, grpc.credentials.createSsl(pki.ca.cert)],
  otherca: [t.address, grpc.credentials.createSsl(pki.otherCa.cert)],
  plain: [t.address, grpc.credentials.createInsecure()],
};
for (const [n, [addr, cred]] of Object.entries(cases)) {
  const c = new grpc.Client(addr, cred);
  const m = healthService.Check as any;
  for (let i = 0; i < 1; i++) {
    await new Promise<void>((res) => c.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { service: '' }, { deadline: Date.now() + 1500 }, (err: any, r: any) => { console.log(n, i, err ? `${err.code} ${err.details}` : r); res(); }));
  }
  c.close();
}
await s.stop(0); await t.stop(0); pki.remove();
