import { hostname } from 'node:os';
import { connectBus, registerTeacher } from '@vicinal/bus';
import { startTinyTeacher, tinyMetadata } from './tiny-teacher.js';

// A tiny teacher as its own process, registered in the NATS teacher registry
// with a heartbeat: `node --import tsx tiny-teacher-process.ts NATS_URL NAME`.
// Prints "ready <address>" once registered. SIGTERM deregisters and stops;
// SIGKILL leaves its registry entry to expire, like a crashed replica.

const [natsUrl, instance] = process.argv.slice(2);
const server = await startTinyTeacher();
const bus = await connectBus(natsUrl, { name: instance, topology: 'bind' });
const meta = tinyMetadata();
const deregister = await registerTeacher(
  bus,
  {
    instance,
    address: server.address,
    model: meta.model,
    version: meta.version,
    architecture: meta.architecture,
    backend: meta.backend,
    startedAt: `${hostname()} ${process.pid}`,
  },
  250,
  () => {},
);
process.stdout.write(`ready ${server.address}\n`);
process.once('SIGTERM', async () => {
  await deregister();
  await server.stop(1000);
  await bus.close();
  process.exit(0);
});
