/**
 * For the native kernels' tests: whether the addon is built. Outside CI the
 * tests skip, saying why, when it is not; with CI=true they run (and fail),
 * so a broken build cannot pass unnoticed.
 */
import { before, test } from 'node:test';
import { readyBackendsWithNative } from '../kernels/reference.js';
import { nativeCallCounts } from './common.js';
import { DEFAULT_ADDON_PATH, loadNativeAddon } from './loader.js';

/**
 * The `skip` option for native tests: false when the addon loads or in CI,
 * otherwise the reason. Turns VICINAL_NATIVE_KERNELS off-switches off for
 * this process (these tests are about the native kernels), and registers a
 * test that the addon loads, which fails in CI when it does not.
 */
export function nativeTestGate(): { skip: string | false } {
  delete process.env.VICINAL_NATIVE_KERNELS;
  const loaded = loadNativeAddon(DEFAULT_ADDON_PATH, {});
  const ci = process.env.CI === 'true';
  const reason = loaded.addon ? '' : loaded.reason;
  const skip =
    loaded.addon || ci
      ? false
      : `native addon not available: ${reason} (CI=true makes this a failure)`;
  test('the native addon loads (required when CI=true)', { skip }, () => {
    if (!loaded.addon) throw new Error(`native addon: ${reason}`);
  });
  return { skip };
}

/**
 * nativeTestGate, plus a before hook readying wasm (native kernels on) and
 * cpu when the tests run. Returns the `skip` option for every native test.
 */
export function nativeTests(): { skip: string | false } {
  const gate = nativeTestGate();
  before(async () => {
    if (!gate.skip) await readyBackendsWithNative();
  });
  return gate;
}

/** Calls of `kernel` that the native code served (not the fallback) while `f` ran. */
export async function nativeCallsDuring(
  kernel: string,
  f: () => Promise<void>,
): Promise<number> {
  const before = nativeCallCounts.get(kernel)?.native ?? 0;
  await f();
  return (nativeCallCounts.get(kernel)?.native ?? 0) - before;
}
