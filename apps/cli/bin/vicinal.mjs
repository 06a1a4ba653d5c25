#!/usr/bin/env node
// Runs the TypeScript CLI in place: tsx compiles on the fly, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
