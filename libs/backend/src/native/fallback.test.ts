import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadNativeAddon } from './loader.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fallback-fixture.ts', import.meta.url));

/** Relative error bound of the wasm kernels' gradient against cpu. */
const BOUND = 1e-4;

interface FixtureOutput {
  native: { enabled: boolean; reason: string; kernels: string[] };
  error: number;
  counts: Record<string, { native: number; fallback: number }>;
}

async function runFixture(env: NodeJS.ProcessEnv): Promise<FixtureOutput> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as FixtureOutput;
}

test('VICINAL_NATIVE_KERNELS=0: BackendInfo says so, the wasm kernels run and match cpu', async () => {
  const out = await runFixture({ VICINAL_NATIVE_KERNELS: '0' });
  assert.equal(out.native.enabled, false);
  assert.match(out.native.reason, /turned off by VICINAL_NATIVE_KERNELS=0/);
  assert.deepEqual(out.native.kernels, []);
  assert.deepEqual(out.counts, {}, 'no native kernel is registered');
  assert.ok(out.error < BOUND, `relative error ${out.error}`);
});

test('a missing addon is reported as not built, with how to build it', () => {
  const loaded = loadNativeAddon('/nonexistent/vicinal_native.node', {});
  assert.equal(loaded.addon, null);
  assert.ok(!loaded.addon && loaded.notBuilt);
  assert.match(loaded.reason, /not built .*nonexistent.*scripts\/ensure-deps\.sh/);
});

test('an addon that cannot load is reported with the loader error', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'vicinal-native-'));
  try {
    const path = join(dir, 'broken.node');
    await writeFile(path, 'not a shared library');
    const loaded = loadNativeAddon(path, {});
    assert.equal(loaded.addon, null);
    assert.ok(!loaded.addon && !loaded.notBuilt);
    assert.match(loaded.reason, /could not load .*broken\.node: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with the switch unset, BackendInfo says whether native kernels are in use and why', async () => {
  const out = await runFixture({ VICINAL_NATIVE_KERNELS: '' });
  const expected = loadNativeAddon();
  assert.equal(out.native.enabled, expected.addon !== null, out.native.reason);
  if (out.native.enabled) {
    assert.match(out.native.reason, /^oneDNN \d+\.\d+/);
    assert.ok(out.native.kernels.includes('Conv2DBackpropFilter'));
    for (const k of ['BatchMatMul', '_FusedMatMul'])
      assert.ok(out.native.kernels.includes(k), k);
    assert.ok((out.counts.Conv2DBackpropFilter?.native ?? 0) > 0);
  } else {
    assert.equal(out.native.reason, expected.reason);
  }
  assert.ok(out.error < BOUND, `relative error ${out.error}`);
});
