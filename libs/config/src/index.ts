export * from './experiment.js';
export * from './job.js';
export * from './services.js';
export * from './study.js';
export * from './transport.js';
export { ConfigError, parseConfig } from './validate.js';
