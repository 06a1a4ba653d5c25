export { tf, initBackend, type BackendName, type BackendInfo } from './backend.js';
