import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { expandExperiment, parseExperiment } from '@vicinal/config';
import { parse as parseYaml } from 'yaml';

// configs/quick.yaml through the real CLI: a local nats-server, one teacher
// server per teacher, two student trainers, twenty jobs over JetStream on real
// Fashion-MNIST. The report's content is checked against results.json: the
// numbers the HTML and its JSON/CSV show are recomputed here from the runs.

const dir = mkdtempSync(join(tmpdir(), 'vicinal-quick-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  teacher: string | null;
  arm: string;
  temperature: number | null;
  seed: number;
  accuracy: number;
  ece: number;
  overconfidence: number;
  temperatureScaling?: { temperature: number; eceBefore: number; eceAfter: number };
}
interface SpreadJson {
  mean: number;
  std: number | null;
  n: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sampleStd = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** The text of the element with this id (the section up to its closing tag). */
function section(html: string, id: string, tag: string): string {
  const start = html.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `no element with id ${id}`);
  const end = html.indexOf(`</${tag}>`, start);
  return html.slice(start, end);
}

test('configs/quick.yaml runs the grid end to end and the report shows its numbers', () => {
  const out = join(dir, 'out');
  const run = spawnSync(
    process.execPath,
    [
      'apps/cli/bin/vicinal.mjs',
      'study',
      'configs/quick.yaml',
      '--out',
      out,
      '--cache-dir',
      join(dir, 'cache'),
      '--workers',
      '2',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, VICINAL_BACKEND: 'wasm' },
      timeout: 900_000,
    },
  );
  assert.equal(run.status, 0, `${run.stderr}\n${run.stdout}`);
  const grid = parseExperiment(
    parseYaml(readFileSync('configs/quick.yaml', 'utf8')),
    'quick.yaml',
  );
  const plan = expandExperiment(grid);
  assert.equal(plan.jobs.length, 20);
  // One teacher-server process per teacher, each on its own port.
  const servers = [...run.stdout.matchAll(/teacher server for (\S+) ready at (\S+)/g)];
  assert.deepEqual(servers.map((m) => m[1]).sort(), ['cnn-large', 'resnet8']);
  assert.notEqual(servers[0][2], servers[1][2]);
  // Each teacher server held the Fashion-MNIST training split, and every
  // query it answered named rows of it: no student sent pixels. (Its last
  // log line before stopping counts what it answered, by request form.)
  const serverLogs = readdirSync(join(out, 'logs')).filter((f) =>
    f.startsWith('teacher-server-'),
  );
  assert.equal(serverLogs.length, 2, serverLogs.join(', '));
  for (const file of serverLogs) {
    const lines = readFileSync(join(out, 'logs', file), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; answered?: Record<string, number> });
    assert.ok(
      lines.some((l) => l.msg === 'holding a data set for row-number queries'),
      file,
    );
    const answered = lines.find((l) => l.msg === 'draining')?.answered;
    assert.ok(answered && answered.rows > 0, `${file}: ${JSON.stringify(answered)}`);
    assert.equal(answered.mix, 0, file);
    assert.equal(answered.images, 0, file);
  }

  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    teachers: {
      name: string;
      parameters: number;
      test: { accuracy: number };
      temperatureScaling?: { temperature: number };
    }[];
    runs: Run[];
  };
  // Every job's result is also a file of its own.
  for (const j of plan.jobs)
    assert.ok(existsSync(join(out, 'runs', `${j.job.jobId}.json`)));
  assert.deepEqual(results.teachers.map((t) => t.name).sort(), ['cnn-large', 'resnet8']);
  const [large, small] = ['cnn-large', 'resnet8'].map(
    (n) => results.teachers.find((t) => t.name === n)!,
  );
  assert.ok(large.parameters > 5 * small.parameters, 'teachers of different capacity');
  const teachersCsv = readFileSync(join(out, 'teachers.csv'), 'utf8');
  for (const t of results.teachers) {
    assert.ok(t.temperatureScaling && t.temperatureScaling.temperature > 0, t.name);
    assert.ok(teachersCsv.includes(String(t.temperatureScaling.temperature)), t.name);
  }
  assert.equal(results.runs.length, 20);
  for (const r of results.runs) {
    // Trained for real: well above chance on 10k test images.
    assert.ok(r.accuracy > 0.2 && r.accuracy <= 1, JSON.stringify(r));
  }

  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    teachers: {
      name: string;
      arms: {
        arm: string;
        temperature: number | null;
        label: string;
        seeds: number[];
        metrics: Record<string, SpreadJson | null>;
      }[];
    }[];
    claims: {
      claim3: {
        teacher: string;
        label: string;
        accuracy: { value: number; se: number | null };
      }[];
      claim4: { teachers: number; points: unknown[] };
      claim5: {
        teacher: string;
        arm: string;
        points: { temperature: number }[];
        accuracyRange: number;
        eceRange: number;
      }[];
    };
  };
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const group = (teacher: string, arm: string, t: number | null) =>
    results.runs.filter(
      (r) =>
        r.arm === arm &&
        r.temperature === t &&
        (r.teacher === teacher || (r.teacher === null && t === null)),
    );

  // Per teacher: every arm (and temperature of the kd arms) as mean ± std over
  // the two seeds, in report.json and in the teacher's table of report.html.
  assert.deepEqual(report.teachers.map((t) => t.name).sort(), ['cnn-large', 'resnet8']);
  for (const teacher of report.teachers) {
    const labels = teacher.arms.map((a) => a.label);
    assert.deepEqual(labels, [
      'baseline',
      'mixup',
      'kd T=1',
      'kd T=4',
      'kd+mixup T=1',
      'kd+mixup T=4',
    ]);
    const table = section(html, `teacher-${teacher.name}`, 'section');
    for (const arm of teacher.arms) {
      const runs = group(teacher.name, arm.arm, arm.temperature);
      assert.deepEqual(runs.map((r) => r.seed).sort(), [1, 2]);
      assert.deepEqual(arm.seeds, [1, 2]);
      const acc = runs.map((r) => r.accuracy);
      const m = arm.metrics.accuracy!;
      close(m.mean, mean(acc), `${teacher.name} ${arm.label} accuracy mean`);
      close(m.std!, sampleStd(acc), `${teacher.name} ${arm.label} accuracy std`);
      const ece = runs.map((r) => r.ece);
      close(arm.metrics.ece!.mean, mean(ece), `${arm.label} ECE mean`);
      // Post-hoc temperature scaling of every run, averaged over the seeds.
      const fitted = runs.map((r) => r.temperatureScaling?.temperature ?? Number.NaN);
      assert.ok(
        fitted.every((t) => t > 0),
        `${arm.label} post-hoc T ${fitted}`,
      );
      close(
        arm.metrics.postHocTemperature!.mean,
        mean(fitted),
        `${arm.label} post-hoc T`,
      );
      const cell =
        `<td class="name">${arm.label}</td><td>2</td>` +
        `<td>${(100 * mean(acc)).toFixed(2)} ± ${(100 * sampleStd(acc)).toFixed(2)}</td>` +
        `<td>${mean(ece).toFixed(4)} ± ${sampleStd(ece).toFixed(4)}</td>`;
      assert.ok(
        table.includes(cell),
        `table row of ${teacher.name} ${arm.label}: ${cell}`,
      );
    }
    // The temperature sweep: a real chart (SVG) with a point per temperature.
    const figures = [...table.matchAll(/<figure class="chart" data-kind="([^"]+)">/g)];
    assert.ok(
      figures.some((f) => f[1] === 'accuracy-vs-ece'),
      teacher.name,
    );
    const start = table.indexOf('data-kind="accuracy-vs-ece"');
    const chart = table.slice(start, table.indexOf('</figure>', start));
    assert.match(chart, /<svg/);
    for (const t of ['T=1', 'T=4']) assert.ok(chart.includes(`>${t}<`), `${t} label`);
  }
  assert.equal((html.match(/data-kind="accuracy-vs-ece"/g) ?? []).length, 2);

  // Claim 3: each arm against the baseline, with the measured difference.
  const claim3 = section(html, 'claim-3', 'section');
  for (const teacher of ['cnn-large', 'resnet8']) {
    const base = mean(group(teacher, 'baseline', null).map((r) => r.accuracy));
    for (const t of [1, 4]) {
      const arm = mean(group(teacher, 'kd+mixup', t).map((r) => r.accuracy));
      const row = report.claims.claim3.find(
        (c) => c.teacher === teacher && c.label === `kd+mixup T=${t}`,
      );
      assert.ok(row, `claim 3 row for ${teacher} T=${t}`);
      close(row.accuracy.value, arm - base, 'accuracy difference');
      assert.ok(row.accuracy.se !== null, 'two seeds give a standard error');
      const diff = (100 * (arm - base)).toFixed(2);
      const signed =
        diff.startsWith('-') && Number(diff) !== 0 ? diff : `+${diff.replace('-', '')}`;
      const text = `Teacher ${teacher}: kd+mixup T=${t} − baseline accuracy: ${signed} pts ± `;
      assert.ok(claim3.includes(text), `claim 3 states: ${text}`);
    }
  }
  assert.doesNotMatch(claim3, /several capacities; this run has one/);
  // Claim 4 across the two teachers; claim 5 over the two temperatures.
  assert.equal(report.claims.claim4.teachers, 2);
  const claim4 = section(html, 'claim-4', 'section');
  assert.doesNotMatch(claim4, /needs at least two teachers/);
  assert.match(claim4, /same sign/);
  for (const s of report.claims.claim5) {
    assert.deepEqual(
      s.points.map((p) => p.temperature),
      [1, 4],
    );
    const accs = [1, 4].map((t) =>
      mean(group(s.teacher, s.arm, t).map((r) => r.accuracy)),
    );
    close(
      s.accuracyRange,
      Math.max(...accs) - Math.min(...accs),
      'claim 5 accuracy range',
    );
  }
  assert.equal(report.claims.claim5.length, 4);
  const claim5 = section(html, 'claim-5', 'section');
  for (const s of report.claims.claim5) {
    assert.ok(claim5.includes((100 * s.accuracyRange).toFixed(2)), 'claim 5 range shown');
  }
  // The CSV behind the per-teacher tables holds the same means.
  const csv = readFileSync(join(out, 'students.csv'), 'utf8').trim().split('\n');
  const head = csv[0].split(',');
  const col = (name: string) => head.indexOf(name);
  for (const line of csv.slice(1)) {
    const cells = line.split(',');
    const t = cells[col('temperature')] === '' ? null : Number(cells[col('temperature')]);
    const runs = group(cells[col('table')], cells[col('arm')], t);
    // Only the kd arms name the teacher they distilled from.
    assert.equal(
      cells[col('teacher')],
      cells[col('arm')].startsWith('kd') ? cells[col('table')] : '',
    );
    close(
      Number(cells[col('accuracy_mean')]),
      mean(runs.map((r) => r.accuracy)),
      `students.csv ${line.slice(0, 30)}`,
    );
  }
  assert.equal(csv.length - 1, 12);
});
