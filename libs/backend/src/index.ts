export { type BackendInfo, type BackendName, initBackend, tf } from './backend.js';
export {
  type RegisteredKernel,
  registerWasmTrainingKernels,
} from './kernels/register.js';
export { UnsupportedKernelCaseError } from './kernels/wasm-kernel-utils.js';
export { nativeCallCounts, setNativeKernelsActive } from './native/common.js';
export {
  DEFAULT_ADDON_PATH,
  loadNativeAddon,
  NATIVE_SWITCH,
  type NativeLibraryInfo,
} from './native/loader.js';
export { nativePixelMixer, type PixelMixer } from './native/mix.js';
export { type NativeKernelsInfo, registerNativeKernels } from './native/register.js';
