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

interface RunningStudy {
  /** nats-server, teacher server and student trainers, once students train. */
  pids: number[];
  exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
}

/**
 * Starts the study in a process group of its own (as a shell runs a command)
 * and resolves once its students are training.
 */
async function startStudy(
  name: string,
  text = settings,
): Promise<RunningStudy & { leader: number }> {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, text.replace('name: interrupt', `name: ${name}`));
  const cli = spawn(
    process.execPath,
    [
      'apps/cli/bin/vicinal.mjs',
      'study',
      config,
      '--out',
      join(dir, name),
      '--cache-dir',
      dir,
    ],
    {
      env: { ...process.env, VICINAL_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  cli.stdout.setEncoding('utf8');
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
  return { leader: cli.pid!, pids, exited, output: () => ({ stdout, stderr }) };
}

test('Ctrl-C (SIGINT to the whole process group) stops the study and every process it started', {
  timeout: 120_000,
}, async () => {
  const study = await startStudy('interrupt');
  // What a terminal does: the signal reaches the coordinator and its children.
  process.kill(-study.leader, 'SIGINT');
  const code = await study.exited;
  const { stderr } = study.output();
  // 128 + SIGINT (2), as a shell reports a command ended by Ctrl-C.
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: stopping every process this study started/);
  assert.match(
    stderr,
    /vicinal: study interrupted by SIGINT; every process it started was stopped \(run the same command again to resume\)\n$/,
  );
  for (const pid of study.pids)
    assert.equal(alive(pid), false, `process ${pid} still running`);
});

test('SIGINT to the coordinator alone stops every process it started', {
  timeout: 120_000,
}, async () => {
  const study = await startStudy('interrupt-coordinator');
  process.kill(study.leader, 'SIGINT');
  const code = await study.exited;
  assert.equal(code, 130, study.output().stderr);
  for (const pid of study.pids)
    assert.equal(alive(pid), false, `process ${pid} still running`);
});

test('a nats-server killed under the study ends it with the reason, stopping the rest', {
  timeout: 120_000,
}, async () => {
  const study = await startStudy('nats-lost');
  const [natsPid, ...others] = study.pids;
  process.kill(natsPid, 'SIGKILL');
  const code = await study.exited;
  const { stderr } = study.output();
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    new RegExp(
      `nats-server \\(pid ${natsPid}\\) exited \\(SIGKILL\\) while the study ran`,
    ),
  );
  assert.match(stderr, /run the same command again to resume/);
  for (const pid of others)
    assert.equal(alive(pid), false, `process ${pid} still running`);
});

test('a teacher server killed under the study is started again and the study finishes', {
  timeout: 300_000,
}, async () => {
  // Students short enough to finish, long enough to be training at the kill.
  const short = settings
    .replace('epochs: 50', 'epochs: 3')
    .replace('trainImages: 4096', 'trainImages: 1024');
  const study = await startStudy('teacher-lost', short);
  const [, teacherPid] = study.pids;
  process.kill(teacherPid, 'SIGKILL');
  const code = await study.exited;
  const { stdout, stderr } = study.output();
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(
    stdout,
    new RegExp(
      `teacher server for \\S+ \\(pid ${teacherPid}\\) exited \\(SIGKILL\\) while the ` +
        'study ran; started it again as pid (\\d+) \\(1/3\\)',
    ),
  );
  // The new pid is printed, and it is a new process.
  const restarted = Number(
    /started it again as pid (\d+)/.exec(stdout)?.[1] ?? Number.NaN,
  );
  assert.ok(Number.isInteger(restarted) && restarted !== teacherPid, stdout);
  assert.equal(alive(restarted), false, `restarted teacher ${restarted} still running`);
  // Both jobs finished, the kd+mixup one with the restarted teacher.
  assert.match(stdout, /\[kd\+mixup [^\]]*\] done: accuracy/);
  assert.match(stdout, /\[baseline [^\]]*\] done: accuracy/);
  for (const pid of study.pids)
    assert.equal(alive(pid), false, `process ${pid} still running`);
});
