export * from './study.js';
export * from './job.js';
export * from './services.js';
export { ConfigError, parseConfig } from './validate.js';
