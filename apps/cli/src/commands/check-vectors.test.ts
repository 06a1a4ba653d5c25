import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type CheckVectorsIo,
  checkVectorsCommand,
  runVectorChecks,
  VectorsFileError,
} from './check-vectors.js';

const run = promisify(execFile);
// The shared reference vectors sit next to the repository (see README).
const sharedVectors =
  process.env.VICINAL_VECTORS ??
  new URL('../../../../../shared/vectors/metrics-and-losses.json', import.meta.url)
    .pathname;
const repoRoot = new URL('../../../../', import.meta.url).pathname;

let dir: string;
let original: Json;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vicinal-check-vectors-'));
  original = JSON.parse(await readFile(sharedVectors, 'utf8'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown>;

/** The object at a dotted path of the vectors, to edit in place. */
function at(root: Json, path: string): Json {
  return path.split('.').reduce((node, key) => node[key] as Json, root);
}

/** Writes a copy of the vectors with `edit` applied and returns its path. */
async function variant(name: string, edit: (v: Json) => void): Promise<string> {
  const copy = structuredClone(original);
  edit(copy);
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(copy));
  return path;
}

function captureIo(): CheckVectorsIo & { stdout: string; stderr: string; code: number } {
  const io = {
    stdout: '',
    stderr: '',
    code: 0,
    out: (text: string) => {
      io.stdout += text;
    },
    err: (text: string) => {
      io.stderr += text;
    },
    setExitCode: (code: number) => {
      io.code = code;
    },
  };
  return io;
}

async function runCommand(file: string) {
  const io = captureIo();
  await checkVectorsCommand(io).parseAsync([file, '--backend', 'cpu'], { from: 'user' });
  return io;
}

describe('runVectorChecks', () => {
  test('every check on the shared vectors file passes', async () => {
    const { results, backend } = await runVectorChecks(sharedVectors, { backend: 'cpu' });
    assert.equal(backend, 'cpu');
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], JSON.stringify(failed, null, 1));
    const names = results.map((r) => r.name);
    for (const name of [
      'calibration.ece',
      'calibration.bin_counts',
      'temperature_scaling.temperature',
      'distillation_losses.kd_T4',
      'distillation_losses.blend_T2_ce0.2_kd0.8',
      'distillation_losses.kd_zscore_T2',
      'vicinal.L_NL',
      'vicinal.entropy',
    ]) {
      assert.ok(names.includes(name), `missing check ${name}`);
    }
    // 10 calibration + 3 temperature + 7 losses + 5 of them again through the
    // fused loss (kd_T1, kd_T2, kd_T4, ce, blend) + 2 vicinal
    assert.equal(results.length, 27);
    assert.ok(names.includes('distillation_losses.kd_T2 (fused)'));
    assert.ok(!names.includes('distillation_losses.kd_zscore_T2 (fused)'));
  });

  test('tolerances come from an optional numeric tolerances object', async () => {
    const path = await variant('loose.json', (v) => {
      v.tolerances = { temperature: 0.5 };
      const expected = at(v, 'temperature_scaling.expected');
      expected.temperature = (expected.temperature as number) + 0.2;
    });
    const { results } = await runVectorChecks(path, { backend: 'cpu' });
    const check = results.find((r) => r.name === 'temperature_scaling.temperature');
    assert.ok(check?.ok);
    assert.deepEqual(check?.tolerance, { kind: 'absolute', value: 0.5 });
  });

  test('other loss keys of the same naming scheme are computed', async () => {
    const path = await variant('more-losses.json', (v) => {
      const losses = at(v, 'distillation_losses');
      const { kd_T2 } = at(losses, 'expected');
      losses.expected = { kd_plain_T2: kd_T2, blend_T2_ce0_kd1: kd_T2 };
    });
    const { results } = await runVectorChecks(path, { backend: 'cpu' });
    const losses = results.filter((r) => r.name.startsWith('distillation_losses.'));
    assert.deepEqual(
      losses.map((r) => [r.name, r.ok]),
      [
        ['distillation_losses.kd_plain_T2', true],
        ['distillation_losses.kd_plain_T2 (fused)', true],
        ['distillation_losses.blend_T2_ce0_kd1', true],
        ['distillation_losses.blend_T2_ce0_kd1 (fused)', true],
      ],
    );
  });

  test('malformed files are rejected naming the key', async () => {
    const cases: [string, (v: Json) => void, RegExp][] = [
      [
        'no-ece.json',
        (v) => delete at(v, 'calibration.expected').ece,
        /calibration\.expected\.ece is missing/,
      ],
      [
        'bad-labels.json',
        (v) => {
          at(v, 'calibration').labels = 'x';
        },
        /calibration\.labels is malformed/,
      ],
      [
        'short-bins.json',
        (v) => (at(v, 'calibration.expected').bin_counts as number[]).pop(),
        /bin_counts/,
      ],
      ['no-vicinal.json', (v) => delete v.vicinal, /key vicinal is missing/],
      [
        'bad-loss.json',
        (v) => {
          at(v, 'distillation_losses.expected').kd_T0x = 1;
        },
        /distillation_losses\.expected\.kd_T0x: unknown loss name/,
      ],
      [
        'bad-partner.json',
        (v) => {
          (at(v, 'distillation_losses').partner as number[])[0] = 99;
        },
        /distillation_losses.*partner\[0\]/,
      ],
      [
        'ragged-logits.json',
        (v) => (at(v, 'distillation_losses').teacher_logits as number[][])[2].push(0),
        /distillation_losses\.teacher_logits\[2\]: expected 10 values/,
      ],
      [
        'ragged.json',
        (v) => (at(v, 'vicinal').p_mix as number[][])[3].pop(),
        /vicinal\.p_mix\[3\]: expected 10 values/,
      ],
    ];
    for (const [name, edit, message] of cases) {
      const path = await variant(name, edit);
      await assert.rejects(
        runVectorChecks(path, { backend: 'cpu' }),
        (err) => err instanceof VectorsFileError && message.test(err.message),
        name,
      );
    }
  });
});

describe('check-vectors command', () => {
  test('prints one line per check and "27 passed, 0 failed"', async () => {
    const io = await runCommand(sharedVectors);
    const lines = io.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), '27 passed, 0 failed');
    assert.equal(lines.length, 28);
    assert.match(
      lines[0],
      /^ok {3}calibration\.accuracy {2}expected=0\.54 actual=0\.54$/,
    );
    assert.ok(lines.slice(0, -1).every((l) => l.startsWith('ok   ')));
    assert.equal(io.code, 0);
    assert.equal(io.stderr, '');
  });

  test('a perturbed expected value fails that check and sets exit code 1', async () => {
    const path = await variant('perturbed.json', (v) => {
      const expected = at(v, 'calibration.expected');
      expected.ece = (expected.ece as number) + 1e-3;
    });
    const io = await runCommand(path);
    const lines = io.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), '26 passed, 1 failed');
    const failures = lines.filter((l) => l.startsWith('FAIL'));
    assert.equal(failures.length, 1);
    assert.match(
      failures[0],
      /^FAIL calibration\.ece {2}expected=0\.261\d* actual=0\.260\d*/,
    );
    assert.match(failures[0], /tolerance=absolute 0\.000001/);
    assert.equal(io.code, 1);
  });

  test('an unreadable or malformed file: exit code 2 and one clear line', async () => {
    const missing = await runCommand(join(dir, 'does-not-exist.json'));
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /^vicinal check-vectors: cannot read vectors file .*\n$/,
    );
    assert.equal(missing.stdout, '');
    const notJson = join(dir, 'not-json.json');
    await writeFile(notJson, '{"calibration": ');
    const broken = await runCommand(notJson);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /is not valid JSON/);
    const path = await variant(
      'no-brier.json',
      (v) => delete at(v, 'calibration.expected').brier,
    );
    const malformed = await runCommand(path);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /key calibration\.expected\.brier is missing/);
  });

  test('the vicinal CLI exits 1 on a failing check, 2 on a malformed file', async () => {
    const cli = join(repoRoot, 'apps/cli/bin/vicinal.mjs');
    const perturbed = await variant('perturbed-cli.json', (v) => {
      const expected = at(v, 'distillation_losses.expected');
      expected.kd_T2 = (expected.kd_T2 as number) * 1.001;
    });
    const env = { ...process.env, VICINAL_BACKEND: 'cpu' };
    const failing = await run(process.execPath, [cli, 'check-vectors', perturbed], {
      env,
    }).then(
      () => assert.fail('expected a non-zero exit status'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /^FAIL distillation_losses\.kd_T2 /m);
    assert.match(failing.stdout, /^FAIL distillation_losses\.kd_T2 \(fused\) /m);
    assert.match(failing.stdout, /\n25 passed, 2 failed\n$/);
    const malformed = await variant(
      'malformed-cli.json',
      (v) => delete v.distillation_losses,
    );
    const bad = await run(process.execPath, [cli, 'check-vectors', malformed], {
      env,
    }).then(
      () => assert.fail('expected a non-zero exit status'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /key distillation_losses is missing/);
  });
});
