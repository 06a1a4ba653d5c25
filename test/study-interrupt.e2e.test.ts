import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// Ctrl-C during the main job stops every process it started: the
// nats-server, the teacher server and the student trainers.

const dir = mkdtempSync(join(tmpdir(), 'vicinal-interrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = `
name: interrupt
seed: 4
dataset: { name: fashion-mnist }
teacher: { architecture: student-cnn, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 256 }
student: { architecture: student-cnn, epochs: 50, batchSize: 64, learningRate: 0.002, trainImages: 4096 }
arms: [baseline, kd+mixup]
loss: { beta: 0.8, temperature: 2, variant: plain }
mixup: { alpha: 1, p: 1 }
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('SIGINT stops the study and every process it started', async () => {
  const config = join(dir, 'interrupt.yaml');
  writeFileSync(config, settings);
  const cli = spawn(
    process.execPath,
    [
      'apps/cli/bin/vicinal.mjs',
      'study',
      config,
      '--out',
      join(dir, 'out'),
      '--cache-dir',
      dir,
    ],
    {
      env: { ...process.env, VICINAL_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  cli.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    cli.once('exit', (code) => resolve(code)),
  );
  const pids = await new Promise<number[]>((resolve, reject) => {
    cli.stdout.on('data', (d) => {
      stdout += d;
      // Interrupt once the students are training.
      if (/\[(kd\+mixup|baseline) [^\]]*\] started/.test(stdout)) {
        const found = [...stdout.matchAll(/pids? ([\d, ]+)\)/g)].flatMap((m) =>
          m[1].split(',').map((p) => Number(p.trim())),
        );
        resolve(found);
      }
    });
    cli.once('exit', () => reject(new Error(`study ended early:\n${stdout}\n${stderr}`)));
  });
  assert.equal(pids.length, 4, `nats, teacher and two students: ${stdout}`);
  assert.ok(pids.every(alive));
  cli.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 1);
  assert.match(stderr, /interrupted: stopping every process this study started/);
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} still running`);
});
