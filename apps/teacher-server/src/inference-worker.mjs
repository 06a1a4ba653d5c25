// Entry of the inference thread: threads do not inherit a loader registered
// with tsx's API (as bin/vicinal.mjs does), so TypeScript is registered here,
// then the worker itself is loaded.
import { register } from 'tsx/esm/api';

register();
await import('./inference-worker.ts');
