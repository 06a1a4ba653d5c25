export { type BackendInfo, type BackendName, initBackend, tf } from './backend.js';
export {
  type RegisteredKernel,
  registerWasmTrainingKernels,
} from './kernels/register.js';
export { UnsupportedKernelCaseError } from './kernels/wasm-kernel-utils.js';
