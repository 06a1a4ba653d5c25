import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHART_KINDS } from './charts.js';
import { ResultsError, type RunResult, readResults } from './results.js';
import { syntheticResults } from './testing/synthetic-results.js';
import { type ReportData, writeReport } from './write-report.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-report-'));
after(() => rm(root, { recursive: true, force: true }));

/** Mean and sample standard deviation, computed here independently of the report. */
function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

function pm(values: number[], scale: number, digits: number, signed = false): string {
  const { mean, std } = meanStd(values);
  const m = (mean * scale).toFixed(digits);
  return `${signed && mean >= 0 ? '+' : ''}${m} ± ${(std * scale).toFixed(digits)}`;
}

/** The HTML between `<section ... id="ID"` and the next `</section>`. */
function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `section ${id} is missing`);
  return html.slice(start, html.indexOf('</section>', start));
}

/** Cells of the table row whose first cell is `first`. */
function rowCells(html: string, first: string): string[] {
  const start = html.indexOf(`<tr><td class="name">${first}</td>`);
  assert.ok(start >= 0, `no row ${first}`);
  const row = html.slice(start, html.indexOf('</tr>', start));
  return [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
}

function csvRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.split(','));
}

describe('a report of 2 teachers x 4 arms x 2 temperatures x 2 seeds', () => {
  const results = syntheticResults();
  const out = join(root, 'full');
  let html = '';
  let data: ReportData;
  const runs = (teacher: string | null, arm: string, temperature: number | null) =>
    results.runs.filter(
      (r) => r.teacher === teacher && r.arm === arm && r.temperature === temperature,
    );
  const values = (rs: RunResult[], f: (r: RunResult) => number) => rs.map(f);

  before(async () => {
    const files = await writeReport(results, out);
    assert.equal(files.html, join(out, 'report.html'));
    html = await readFile(files.html, 'utf8');
    data = JSON.parse(await readFile(files.json, 'utf8'));
  });

  test('one SVG chart per kind, per teacher for the per-teacher kinds', () => {
    for (const kind of CHART_KINDS) {
      const figures = [
        ...html.matchAll(
          new RegExp(
            `<figure class="chart" data-kind="${kind}">[\\s\\S]*?</figure>`,
            'g',
          ),
        ),
      ];
      const want = kind === 'calibration-transfer' ? 1 : 2;
      assert.equal(figures.length, want, `${kind}: ${figures.length} figures`);
      for (const [figure] of figures) {
        assert.match(
          figure,
          /<svg[^>]*>[\s\S]*<path[\s\S]*<\/svg>/,
          `${kind} has an SVG`,
        );
      }
    }
  });

  test('self-contained: no scripts, no links, no outside addresses', () => {
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /\s(src|href)\s*=/i);
    assert.doesNotMatch(html, /<link/i);
  });

  test('the students table shows mean ± std over seeds, computed independently', () => {
    const small = section(html, 'teacher-small');
    const rs = runs('small', 'kd+mixup', 4);
    assert.equal(rs.length, 2);
    const cells = rowCells(small, 'kd+mixup T=4');
    assert.deepEqual(cells, [
      'kd+mixup T=4',
      '2',
      pm(
        values(rs, (r) => r.accuracy),
        100,
        2,
      ),
      pm(
        values(rs, (r) => r.ece),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.mce),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.overconfidence),
        1,
        4,
        true,
      ),
      pm(
        values(rs, (r) => r.nll),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.brier),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.adaptiveEce!),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.temperatureScaling!.temperature),
        1,
        3,
      ),
      pm(
        values(rs, (r) => r.temperatureScaling!.eceAfter),
        1,
        4,
      ),
      pm(
        values(rs, (r) => r.samplesPerSecond),
        1,
        0,
      ),
    ]);
    // the shared baseline appears under both teachers with the same numbers
    const baseline = pm(
      values(runs(null, 'baseline', null), (r) => r.accuracy),
      100,
      2,
    );
    assert.equal(rowCells(small, 'baseline')[2], baseline);
    assert.equal(rowCells(section(html, 'teacher-large'), 'baseline')[2], baseline);
  });

  test('report.json holds the same aggregates', () => {
    const rs = runs('large', 'kd', 1);
    const arm = data.teachers[1].arms.find((a) => a.label === 'kd T=1')!;
    const { mean, std } = meanStd(values(rs, (r) => r.accuracy));
    assert.equal(data.teachers[1].name, 'large');
    assert.deepEqual(arm.seeds, [0, 1]);
    assert.ok(Math.abs(arm.metrics.accuracy!.mean - mean) < 1e-12);
    assert.ok(Math.abs(arm.metrics.accuracy!.std! - std) < 1e-12);
    assert.equal(arm.metrics.accuracy!.n, 2);
    assert.deepEqual(
      data.teachers[0].arms.map((a) => a.label),
      ['baseline', 'mixup', 'kd T=1', 'kd T=4', 'kd+mixup T=1', 'kd+mixup T=4'],
    );
  });

  test('every claim is stated with its numbers', () => {
    for (let id = 1; id <= 5; id++) {
      const claim = section(html, `claim-${id}`);
      assert.match(claim, new RegExp(`<h3>Claim ${id}: `));
      assert.match(claim, /class="statement"/);
      assert.match(claim, /Question for the reader: /);
      assert.doesNotMatch(claim, /Not measured in this run/);
    }
    // claim 1: the teacher's peak rest mass against its clean dark knowledge
    const analyses = results.runs
      .filter((r) => r.teacher === 'small')
      .map((r) => r.analysis!);
    const rest = analyses.map((a) => a.peak.restMass!);
    const dark = analyses.map((a) => a.peak.darkKnowledge!);
    const claim1 = section(html, 'claim-1');
    assert.ok(claim1.includes(`on the other classes ${pm(rest, 1, 4)}`));
    assert.ok(claim1.includes(`vs clean dark knowledge ${pm(dark, 1, 4)}`));
    const ratio = meanStd(rest).mean / meanStd(dark).mean;
    assert.ok(claim1.includes(`(ratio ${ratio.toFixed(2)})`));
    // claim 2: the linearity gain of one arm at the peak
    const gains = runs('small', 'kd', 1).map((r) => r.analysis!.peak.linearityGain!);
    assert.equal(rowCells(section(html, 'claim-2'), 'small')[5], pm(gains, 1, 5, true));
    // claim 3: kd+mixup - baseline accuracy with the standard error of the difference
    const km = values(runs('large', 'kd+mixup', 4), (r) => r.accuracy);
    const base = values(runs(null, 'baseline', null), (r) => r.accuracy);
    const a = meanStd(km);
    const b = meanStd(base);
    const delta = (100 * (a.mean - b.mean)).toFixed(2);
    const se = (100 * Math.sqrt(a.std ** 2 / 2 + b.std ** 2 / 2)).toFixed(2);
    const claim3 = section(html, 'claim-3');
    assert.ok(
      claim3.includes(
        `Teacher large: kd+mixup T=4 − baseline accuracy: +${delta} pts ± ${se} pts ` +
          '(s.e.; n = 2, 2)',
      ),
      claim3,
    );
    const ocBase = meanStd(values(runs(null, 'baseline', null), (r) => r.overconfidence));
    const ocKm = meanStd(values(runs('large', 'kd+mixup', 4), (r) => r.overconfidence));
    const times = (Math.abs(ocBase.mean) / Math.abs(ocKm.mean)).toFixed(2);
    assert.ok(claim3.includes(`|baseline| / |kd+mixup T=4| = ${times}×`));
    // claim 4: the sign of the student's over-confidence against the teacher's
    const claim4 = section(html, 'claim-4');
    const sameSign = (arm: string, t: number | null) =>
      results.teachers.filter((teacher) => {
        const rs = results.runs.filter(
          (r) =>
            (r.teacher === teacher.name || r.teacher === null) &&
            r.arm === arm &&
            r.temperature === t,
        );
        const m = meanStd(rs.map((r) => r.overconfidence)).mean;
        return Math.sign(m) === Math.sign(teacher.test.overconfidence);
      }).length;
    assert.equal(rowCells(claim4, 'baseline')[2], `${sameSign('baseline', null)} of 2`);
    assert.equal(rowCells(claim4, 'kd T=4')[2], `${sameSign('kd', 4)} of 2`);
    // claim 5: the accuracy range over the temperatures
    const t1 = meanStd(values(runs('small', 'kd', 1), (r) => r.accuracy)).mean;
    const t4 = meanStd(values(runs('small', 'kd', 4), (r) => r.accuracy)).mean;
    const claim5 = rowCells(section(html, 'claim-5'), 'small');
    assert.deepEqual(claim5.slice(0, 4), [
      'small',
      'kd',
      '1, 4',
      (100 * Math.abs(t4 - t1)).toFixed(2),
    ]);
  });

  test('the CSV tables match the runs and the aggregates', async () => {
    const students = csvRows(await readFile(join(out, 'students.csv'), 'utf8'));
    const header = students[0];
    const at = (r: string[], name: string) => r[header.indexOf(name)];
    const row = students.find(
      (r) =>
        at(r, 'table') === 'small' &&
        at(r, 'arm') === 'kd+mixup' &&
        at(r, 'temperature') === '4',
    )!;
    assert.equal(at(row, 'teacher'), 'small');
    // Baseline and mixup repeat in each teacher's table, distilled from none.
    const base = students.filter((r) => at(r, 'arm') === 'baseline');
    assert.deepEqual(
      base.map((r) => [at(r, 'table'), at(r, 'teacher')]),
      [
        ['small', ''],
        ['large', ''],
      ],
    );
    const get = (name: string) => Number(row[header.indexOf(name)]);
    const acc = meanStd(values(runs('small', 'kd+mixup', 4), (r) => r.accuracy));
    assert.ok(Math.abs(get('accuracy_mean') - acc.mean) < 1e-12);
    assert.ok(Math.abs(get('accuracy_std') - acc.std) < 1e-12);
    assert.equal(row[header.indexOf('n')], '2');
    assert.equal(students.length, 1 + 2 * 6);
    const runRows = csvRows(await readFile(join(out, 'runs.csv'), 'utf8'));
    assert.equal(runRows.length, 1 + results.runs.length);
    const first = results.runs[0];
    assert.deepEqual(runRows[1].slice(0, 5), [
      '',
      first.arm,
      '',
      String(first.seed),
      String(first.accuracy),
    ]);
    const bins = csvRows(await readFile(join(out, 'vicinal-bins.csv'), 'utf8'));
    // per teacher: the teacher curve and 4 kd arms, 20 bins each
    assert.equal(bins.length, 1 + 2 * 5 * 20);
    const transfer = csvRows(
      await readFile(join(out, 'calibration-transfer.csv'), 'utf8'),
    );
    assert.equal(transfer.length, 1 + 2 * 6);
  });
});

describe('missing data gives notes, not crashes', () => {
  test('one teacher, one seed, one temperature, no analyses, no reliability', async () => {
    const results = syntheticResults({
      teachers: ['only'],
      seeds: [3],
      temperatures: [2],
      analyses: false,
      reliability: false,
    });
    const files = await writeReport(results, join(root, 'sparse'));
    const html = await readFile(files.html, 'utf8');
    const note = 'Not measured in this run: ';
    assert.ok(
      section(html, 'claim-1').includes(`${note}no run carries a vicinal analysis`),
    );
    assert.ok(
      section(html, 'claim-2').includes(`${note}no run carries a vicinal analysis`),
    );
    assert.ok(
      section(html, 'claim-3').includes(
        `${note}the claim speaks of teachers of several capacities; this run has one`,
      ),
    );
    assert.ok(
      section(html, 'claim-3').includes('spread not measured: one seed; n = 1, 1'),
    );
    assert.ok(
      section(html, 'claim-4').includes('needs at least two teachers; this run has 1'),
    );
    assert.ok(section(html, 'claim-5').includes('needs at least two temperatures'));
    const teacher = section(html, 'teacher-only');
    assert.ok(teacher.includes(`${note}no vicinal analysis for these runs`));
    assert.ok(teacher.includes(`${note}spread over seeds for baseline, mixup, kd T=2`));
    assert.doesNotMatch(html, /data-kind="vicinal-/);
    // the teacher's own reliability diagram is still drawn
    assert.match(teacher, /data-kind="reliability"/);
    // one seed: the mean alone, no ± in the students table
    const rs = results.runs.filter((r) => r.arm === 'kd');
    assert.equal(rowCells(teacher, 'kd T=2')[2], (100 * rs[0].accuracy).toFixed(2));
  });

  test('baseline and mixup runs without a teacher: claim 3 says the run trained none', async () => {
    const results = syntheticResults({ teachers: [], seeds: [1, 2] });
    assert.deepEqual([...new Set(results.runs.map((r) => r.arm))], ['baseline', 'mixup']);
    const files = await writeReport(results, join(root, 'no-teacher'));
    const html = await readFile(files.html, 'utf8');
    assert.ok(
      section(html, 'claim-3').includes(
        'Not measured in this run: the comparison is made per teacher, and this run trained none',
      ),
    );
  });

  test('no teachers and no runs', async () => {
    const files = await writeReport(
      { study: { name: 'empty' }, teachers: [], runs: [] },
      join(root, 'empty'),
    );
    const html = await readFile(files.html, 'utf8');
    for (let id = 1; id <= 5; id++) {
      assert.match(section(html, `claim-${id}`), /Not measured in this run/);
    }
    assert.doesNotMatch(html, /<svg/);
  });
});

describe('reading results', () => {
  async function write(name: string, content: unknown): Promise<string> {
    const file = join(root, name);
    await writeFile(
      file,
      typeof content === 'string' ? content : JSON.stringify(content),
    );
    return file;
  }

  test('a wrong arm and a missing field are named with what arrived', async () => {
    const bad = structuredClone(syntheticResults()) as unknown as {
      runs: Record<string, unknown>[];
    };
    bad.runs[1].arm = 'kd-mixup';
    delete bad.runs[2].nll;
    const file = await write('bad-arm.json', bad);
    await assert.rejects(readResults(file), (err: unknown) => {
      assert.ok(err instanceof ResultsError);
      assert.equal(
        err.message,
        `${file}: runs[1].arm: expected one of "baseline", "mixup", "kd", "kd+mixup", ` +
          'got "kd-mixup"; runs[2].nll: expected number, got nothing (the field is missing)',
      );
      return true;
    });
  });

  test('cross-field rules: unknown teacher, kd without temperature', async () => {
    const bad = structuredClone(syntheticResults());
    bad.runs[4].teacher = 'huge';
    bad.runs[5].temperature = null;
    const file = await write('bad-teacher.json', bad);
    await assert.rejects(readResults(file), {
      name: 'ResultsError',
      message:
        `${file}: runs[4].teacher: expected the name of a listed teacher ("small", ` +
        '"large") or null, got "huge"; runs[5].temperature: arm kd distils at a ' +
        'temperature: expected a number > 0, got null',
    });
  });

  test('not JSON, no file, and a directory is read as DIR/results.json', async () => {
    const file = await write('broken.json', '{"study": ');
    await assert.rejects(readResults(file), (err: unknown) => {
      assert.ok(err instanceof ResultsError);
      assert.ok(err.message.startsWith(`${file}: not valid JSON (`), err.message);
      return true;
    });
    await assert.rejects(readResults(join(root, 'nothing-here')), {
      message: `${join(root, 'nothing-here')}: no such file or directory`,
    });
    await assert.rejects(readResults(root), {
      message: `${join(root, 'results.json')}: no results.json in this directory`,
    });
    const dir = join(root, 'good');
    await writeReport({ study: { name: 'x' }, teachers: [], runs: [] }, dir);
    await writeFile(join(dir, 'results.json'), JSON.stringify(syntheticResults()));
    const { results, file: read } = await readResults(dir);
    assert.equal(read, join(dir, 'results.json'));
    assert.equal(results.runs.length, syntheticResults().runs.length);
    assert.equal(results.study.epochs, 1);
  });

  test('writeReport validates its input too', async () => {
    const bad = structuredClone(syntheticResults());
    bad.runs[0].accuracy = 2;
    await assert.rejects(writeReport(bad, join(root, 'never')), {
      message: 'results: runs[0].accuracy: too big: expected number to be <=1, got 2',
    });
  });
});

test("runs analysed on the same pairs count once on the teacher's side", async () => {
  const results = syntheticResults();
  const own = results.runs.filter((r) => r.teacher === 'small' && r.analysis);
  assert.ok(own.length >= 3);
  // Give every run of one seed the first run's analysis, as kd and kd+mixup
  // of one seed analysed on one pair sample do: identical teacher numbers.
  const [first, ...rest] = own;
  const sameSeed = rest.filter((r) => r.seed === first.seed);
  assert.ok(sameSeed.length > 0);
  for (const r of sameSeed) r.analysis = structuredClone(first.analysis);
  const distinct = [first, ...rest.filter((r) => r.seed !== first.seed)];
  const out = join(root, 'shared-pairs');
  const files = await writeReport(results, out);
  const html = await readFile(files.html, 'utf8');
  const claim1 = section(html, 'claim-1');
  const pairs = distinct.reduce((n, r) => n + r.analysis!.pairs, 0);
  assert.ok(
    claim1.includes(`${distinct.length} distinct pair sample(s), ${pairs} pairs:`),
    `claim 1 counts ${distinct.length} samples of ${pairs} pairs`,
  );
  const rest1 = distinct.map((r) => r.analysis!.peak.restMass!);
  assert.ok(claim1.includes(`on the other classes ${pm(rest1, 1, 4)}`));
  const data = JSON.parse(await readFile(files.json, 'utf8')) as ReportData;
  assert.equal(data.teachers[0].teacherVicinal?.runs, distinct.length);
});

test('claim 3 says so when baseline and arm lean opposite ways', async () => {
  const results = syntheticResults();
  const claim3Of = async (name: string) => {
    const files = await writeReport(results, join(root, name));
    return section(await readFile(files.html, 'utf8'), 'claim-3');
  };
  // An under-confident baseline, over-confident distilled students.
  for (const r of results.runs) r.overconfidence = r.arm === 'baseline' ? -0.058 : 0.022;
  const opposite = await claim3Of('signs-opposite');
  assert.match(
    opposite,
    /the signs differ: the baseline is under-confident and kd\+mixup T=4 over-confident, so this compares magnitudes, not a cut in over-confidence/,
  );
  // Same lean on both sides: a plain ratio, no note.
  for (const r of results.runs) r.overconfidence = Math.abs(r.overconfidence);
  const same = await claim3Of('signs-same');
  assert.match(same, /\|baseline\| \/ \|kd\+mixup T=4\| = 2\.64×/);
  assert.doesNotMatch(same, /signs differ/);
});
