import { after, before } from 'node:test';
import {
  type Bus,
  connectBus,
  type NatsServerHandle,
  startNatsServer,
} from '@vicinal/bus';

/**
 * A nats-server of the test file's own on loopback and a bus connected to
 * it, started before the file's tests and stopped after them. Read `bus`
 * and `url` inside tests (they are set once `before` has run).
 */
export function testBus(
  name: string,
  options: { jobAckWaitSeconds?: number } = {},
): { readonly bus: Bus; readonly url: string } {
  let server: NatsServerHandle | undefined;
  let bus: Bus | undefined;
  before(async () => {
    server = await startNatsServer();
    bus = await connectBus(server.url, { name, ...options });
  });
  after(async () => {
    await bus?.close();
    await server?.stop();
  });
  return {
    get bus() {
      if (!bus) throw new Error(`${name}: the bus is set once before() has run`);
      return bus;
    },
    get url() {
      if (!server) throw new Error(`${name}: the server is set once before() has run`);
      return server.url;
    },
  };
}
