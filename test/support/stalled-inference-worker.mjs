// An inference thread that loads nothing and never answers: it says it is
// ready, then holds every call, so a test can end it while calls wait.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', () => {});
parentPort.postMessage({
  type: 'ready',
  backend: {
    name: 'cpu',
    reason: 'stalled test thread',
    kernels: [],
    native: { enabled: false, reason: 'stalled test thread', kernels: [] },
  },
  parameters: 0,
});
