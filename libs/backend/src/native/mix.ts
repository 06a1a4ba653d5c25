/**
 * The addon's pixel mixer for code outside the TensorFlow.js kernels (the
 * teacher server's and the in-process teacher's "mix on the teacher"). Loaded
 * once; null when the addon is off, not built, or built before it had one,
 * and while the native kernels are switched off (setNativeKernelsActive).
 */
import { nativeKernelsActive } from './common.js';
import { loadNativeAddon, type NativeAddon } from './loader.js';

export type PixelMixer = NonNullable<NativeAddon['mixPixels']>;

let mixer: PixelMixer | null | undefined;

export function nativePixelMixer(): PixelMixer | null {
  if (mixer === undefined) {
    const { addon } = loadNativeAddon();
    mixer = addon?.mixPixels ? addon.mixPixels.bind(addon) : null;
  }
  return nativeKernelsActive() ? mixer : null;
}
