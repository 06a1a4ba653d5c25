import { rmSync } from 'node:fs';
import type { Bus, NatsServerHandle } from '@vicinal/bus';
import type { ServiceHandle } from '../../apps/cli/src/study/services.js';

/**
 * Cleanup of an end-to-end test file: stops the service processes it
 * started, closes its bus, stops its nats-server and removes its scratch
 * directories (any may be missing when a test failed early).
 */
export async function stopStarted(started: {
  services: ServiceHandle[];
  bus?: Bus;
  nats?: NatsServerHandle;
  dirs: string[];
}): Promise<void> {
  await Promise.all(started.services.map((s) => s.stop()));
  await started.bus?.close().catch(() => {});
  await started.nats?.stop();
  for (const dir of started.dirs) rmSync(dir, { recursive: true, force: true });
}
