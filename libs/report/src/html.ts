import {
  RUN_METRICS,
  type Spread,
  type StudyAggregate,
  type TeacherSummary,
} from './aggregate.js';
import type { ChartKind } from './charts.js';
import { CLAIMS, type ClaimsData, type Difference } from './claims.js';
import {
  escapeHtml as esc,
  fixed,
  METRIC_FORMAT,
  metricText,
  spreadText,
} from './format.js';

/** A chart rendered to SVG. */
export interface RenderedChart {
  kind: ChartKind;
  title: string;
  svg: string;
}

export interface HtmlInput {
  aggregate: StudyAggregate;
  claims: ClaimsData;
  /** Charts of each teacher, in the order of aggregate.teachers. */
  teacherCharts: RenderedChart[][];
  /** The teacher-to-student calibration chart (null without data). */
  transferChart: RenderedChart | null;
  /** Names of the CSV files written next to the report. */
  csvFiles: string[];
}

/** Shown wherever the data for a table, a chart or a number is absent. */
export const NOT_MEASURED = 'Not measured in this run';

const STYLE = `
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
  line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.name, th.name { text-align: left; }
.claim { border-left: 4px solid #4c78a8; padding-left: 1em; margin: 1.5em 0; }
.statement { font-style: italic; } .question { color: #444; }
.missing { color: #8a4b00; background: #fff6e5; padding: 0.3em 0.6em; }
figure.chart { margin: 1.2em 0; overflow-x: auto; }
figcaption { font-weight: bold; margin-bottom: 0.4em; }
code, pre { background: #f6f6f6; } pre { padding: 0.6em; overflow-x: auto; }
`;

/** The self-contained report page: inline CSS and SVG, no scripts, no links out. */
export function reportHtml(input: HtmlInput): string {
  const { aggregate, claims } = input;
  const title = `vicinal report: ${aggregate.study.name}`;
  const teacherCount = aggregate.teachers.filter((t) => t.name !== null).length;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${esc(title)}</h1>`,
    `<p>${teacherCount} teacher(s), ${aggregate.runs} student run(s).</p>`,
    settingsBlock(aggregate.study.settings),
    conventions(),
    '<h2 id="claims">The claims and the numbers that bear on them</h2>',
    '<p>Each claim is stated in the report’s words, followed by what this run ' +
      'measured and the question the numbers answer. The report draws no ' +
      'conclusion; the reader does.</p>',
    claim1(claims),
    claim2(claims),
    claim3(claims),
    claim4(claims),
    claim5(claims),
    ...aggregate.teachers.map((t, i) => teacherSection(t, input.teacherCharts[i] ?? [])),
    transferSection(input),
    '<h2 id="files">Data behind this report</h2>',
    `<p>report.json holds every aggregated number; the tables are in ${input.csvFiles
      .map((f) => `<code>${esc(f)}</code>`)
      .join(', ')}.</p>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function settingsBlock(settings: Record<string, unknown>): string {
  if (Object.keys(settings).length === 0) return '';
  return (
    '<details><summary>Study settings</summary>' +
    `<pre>${esc(JSON.stringify(settings, null, 2))}</pre></details>`
  );
}

function conventions(): string {
  return [
    '<h2 id="conventions">How to read the numbers</h2>',
    '<ul>',
    '<li>Figures of students are means over seeds ± the sample standard deviation ' +
      '(divisor n − 1); n is the number of seeds. With one seed only the mean is ' +
      'shown and the spread is not measured.</li>',
    '<li>Accuracy in %; ECE and MCE as measured by the runs (equal-width confidence ' +
      'bins); conf − acc is mean confidence minus accuracy (positive: over-confident); ' +
      'adaptive ECE uses equal-mass bins.</li>',
    '<li>A difference of two arms is the difference of their means ± its standard ' +
      'error sqrt(s₁²/n₁ + s₂²/n₂).</li>',
    '<li>Vicinal analysis: pairs of training images mixed with lambda ~ U(0, 1); ' +
      'L_NL = KL(λ p(x_i) + (1 − λ) p(x_j) || p(x~)); the peak is lambda in the open ' +
      'band shown with each table. Curves are means per lambda bin, averaged over ' +
      'runs.</li>',
    '<li>Baseline and mixup students use no teacher; they appear under every ' +
      'teacher.</li>',
    '</ul>',
  ].join('\n');
}

function claimHead(id: number): string {
  const claim = CLAIMS[id - 1];
  return (
    `<section class="claim" id="claim-${id}">` +
    `<h3>Claim ${id}: ${esc(claim.title)}</h3>` +
    `<p class="statement">${esc(claim.statement)}</p>`
  );
}

function claimTail(id: number): string {
  return `<p class="question">Question for the reader: ${esc(CLAIMS[id - 1].question)}</p></section>`;
}

function missing(what: string): string {
  return `<p class="missing">${NOT_MEASURED}: ${esc(what)}.</p>`;
}

function claim1({ claim1: rows }: ClaimsData): string {
  if (rows.length === 0) {
    return claimHead(1) + missing('no run carries a vicinal analysis') + claimTail(1);
  }
  const s = (x: Spread | null) => (x ? spreadText(x) : '–');
  const sentences = rows.map((r) => {
    const p = r.peak;
    const parts = [
      `Teacher ${esc(r.teacher)}, lambda in (${r.peakRange[0]}, ${r.peakRange[1]}), ` +
        `${r.runs} distinct pair sample(s), ${r.pairs} pairs:`,
      `mass on the two constituent classes ${s(p.constituentMass)},`,
      `on the other classes ${s(p.restMass)}`,
      `vs clean dark knowledge ${s(p.darkKnowledge)}` +
        (r.restOverDarkKnowledge === null
          ? ''
          : ` (ratio ${fixed(r.restOverDarkKnowledge, 2)})`) +
        ';',
      r.restBeyondCleanMix === null
        ? ''
        : `other-class mass beyond the mix of clean outputs: ${fixed(r.restBeyondCleanMix, 4, true)};`,
      `KL of the other-class part to the clean non-target mix ${s(p.restKl)},` +
        ` correlation ${s(p.restCorrelation)};`,
      `teacher entropy on x~ ${s(p.entropyTeacher)} nats (uniform: ${fixed(r.maxEntropy, 4)}).`,
    ];
    return `<li>${parts.filter(Boolean).join(' ')}</li>`;
  });
  return `${claimHead(1)}<ul>${sentences.join('\n')}</ul>${claimTail(1)}`;
}

function claim2({ claim2: rows }: ClaimsData): string {
  if (rows.length === 0) {
    return claimHead(2) + missing('no run carries a vicinal analysis') + claimTail(2);
  }
  const s = (x: Spread | null) => (x ? spreadText(x, 1, 5) : '–');
  const body = rows.map(
    (r) =>
      `<tr><td class="name">${esc(r.teacher)}</td><td class="name">${esc(r.label)}</td>` +
      `<td>${r.runs}</td><td>${s(r.teacherNonLinearity)}</td>` +
      `<td>${s(r.studentNonLinearity)}</td><td>${r.gain ? spreadText(r.gain, 1, 5, true) : '–'}</td>` +
      `<td>${r.binsWithPositiveGain} of ${r.binsWithGain}</td></tr>`,
  );
  return (
    claimHead(2) +
    '<p>Peak-band means over the runs (± std over runs).</p>' +
    table(
      [
        'teacher',
        'student arm',
        'runs',
        'teacher L_NL',
        'student L_NL',
        'linearity gain',
        'lambda bins with gain > 0',
      ],
      body,
      2,
    ) +
    claimTail(2)
  );
}

function claim3({
  claim3: rows,
  claim4: { teachers: teacherCount },
}: ClaimsData): string {
  if (rows.length === 0) {
    return (
      claimHead(3) +
      missing(
        teacherCount === 0
          ? 'the comparison is made per teacher, and this run trained none'
          : 'the comparison needs baseline runs and runs of another arm',
      ) +
      claimTail(3)
    );
  }
  const sentences = rows.map((r) => {
    const ratio =
      r.overconfidenceRatio === null
        ? 'ratio undefined (zero over-confidence)'
        : `|baseline| / |${esc(r.label)}| = ${fixed(r.overconfidenceRatio, 2)}×` +
          signsDiffer(r.overconfidenceBaseline.mean, r.overconfidenceArm.mean, r.label);
    return (
      `<li>Teacher ${esc(r.teacher)}: ${esc(r.label)} − baseline accuracy: ` +
      `${differenceText(r.accuracy, 100, 2, 'pts')}; over-confidence baseline ` +
      `${spreadText(r.overconfidenceBaseline, 1, 4, true)} → ${esc(r.label)} ` +
      `${spreadText(r.overconfidenceArm, 1, 4, true)} (${ratio}); ECE ` +
      `${spreadText(r.eceBaseline)} → ${spreadText(r.eceArm)}` +
      (r.eceRatio === null ? '' : ` (${fixed(r.eceRatio, 2)}×)`) +
      '.</li>'
    );
  });
  const teachers = new Set(rows.map((r) => r.teacher)).size;
  const note =
    teachers < 2
      ? missing('the claim speaks of teachers of several capacities; this run has one')
      : '';
  return `${claimHead(3)}<ul>${sentences.join('\n')}</ul>${note}${claimTail(3)}`;
}

/**
 * A ratio of magnitudes reads as a cut only when both sides lean the same
 * way; when one arm is under-confident and the other over-confident, say so.
 */
function signsDiffer(baseline: number, arm: number, label: string): string {
  if (baseline === 0 || arm === 0 || Math.sign(baseline) === Math.sign(arm)) return '';
  const lean = (x: number) => (x < 0 ? 'under-confident' : 'over-confident');
  return (
    `; the signs differ: the baseline is ${lean(baseline)} and ${esc(label)} ` +
    `${lean(arm)}, so this compares magnitudes, not a cut in over-confidence`
  );
}

function claim4({ claim4: data }: ClaimsData): string {
  if (data.points.length === 0) {
    return claimHead(4) + missing('no teacher with student runs') + claimTail(4);
  }
  const points = data.points.map(
    (p) =>
      `<tr><td class="name">${esc(p.teacher)}</td><td>${fixed(100 * p.teacherAccuracy, 2)}</td>` +
      `<td>${fixed(p.teacherOverconfidence, 4, true)}</td><td class="name">${esc(p.label)}</td>` +
      `<td>${spreadText(p.studentAccuracy, 100, 2)}</td>` +
      `<td>${spreadText(p.studentOverconfidence, 1, 4, true)}</td></tr>`,
  );
  let across: string;
  if (data.teachers < 2) {
    across = missing(
      `the relation across teachers needs at least two teachers; this run has ${data.teachers}`,
    );
  } else {
    const opt = (x: number | null, digits: number) =>
      x === null ? '–' : fixed(x, digits, true);
    const groups = data.groups.map(
      (g) =>
        `<tr><td class="name">${esc(g.label)}</td><td>${g.teachers}</td>` +
        `<td>${g.sameSign} of ${g.teachers}</td><td>${opt(g.overconfidenceSlope, 3)}</td>` +
        `<td>${opt(g.overconfidenceCorrelation, 3)}</td><td>${opt(g.accuracyCorrelation, 3)}</td></tr>`,
    );
    across =
      '<p>Across teachers, per student arm: how often the student’s over-confidence has ' +
      'the teacher’s sign, the least-squares slope of student on teacher ' +
      'over-confidence, and Pearson correlations (three or more teachers).</p>' +
      table(
        [
          'student arm',
          'teachers',
          'same sign',
          'slope (over-confidence)',
          'r (over-confidence)',
          'r (accuracy)',
        ],
        groups,
        1,
      );
  }
  return (
    claimHead(4) +
    table(
      [
        'teacher',
        'teacher acc. (%)',
        'teacher conf − acc',
        'student arm',
        'student acc. (%)',
        'student conf − acc',
      ],
      points,
      1,
    ) +
    across +
    claimTail(4)
  );
}

function claim5({ claim5: series }: ClaimsData): string {
  if (series.length === 0) {
    return claimHead(5) + missing('no kd or kd+mixup runs') + claimTail(5);
  }
  const opt = (x: number | null, digits: number, scale = 1) =>
    x === null ? '–' : fixed(x * scale, digits);
  const rows = series.map(
    (s) =>
      `<tr><td class="name">${esc(s.teacher)}</td><td class="name">${esc(s.arm)}</td>` +
      `<td>${s.points.map((p) => p.temperature).join(', ')}</td>` +
      `<td>${opt(s.accuracyRange, 2, 100)}</td><td>${opt(s.eceRange, 4)}</td>` +
      `<td>${s.ecePerAccuracyPoint === null ? '–' : fixed(s.ecePerAccuracyPoint, 5, true)}</td>` +
      `<td>${s.bestAccuracyTemperature ?? '–'}</td><td>${s.bestEceTemperature ?? '–'}</td></tr>`,
  );
  const ratios: string[] = [];
  for (const teacher of new Set(series.map((s) => s.teacher))) {
    const kd = series.find((s) => s.teacher === teacher && s.arm === 'kd');
    const km = series.find((s) => s.teacher === teacher && s.arm === 'kd+mixup');
    if (!kd || !km || kd.eceRange === null || km.eceRange === null) continue;
    if (kd.accuracyRange === null || km.accuracyRange === null) continue;
    const r = (a: number, b: number) => (b > 0 ? `${fixed(a / b, 2)}×` : 'undefined');
    ratios.push(
      `<li>Teacher ${esc(teacher)}: over the temperatures, kd+mixup / kd range of ` +
        `accuracy ${r(km.accuracyRange, kd.accuracyRange)}, of ECE ${r(km.eceRange, kd.eceRange)}.</li>`,
    );
  }
  const few = series.every((s) => s.points.length < 2)
    ? missing('a trade-off across temperatures needs at least two temperatures')
    : '';
  return (
    claimHead(5) +
    table(
      [
        'teacher',
        'arm',
        'temperatures',
        'accuracy range (pts)',
        'ECE range',
        'ΔECE per accuracy pt',
        'T of best accuracy',
        'T of lowest ECE',
      ],
      rows,
      2,
    ) +
    (ratios.length > 0
      ? `<ul>${ratios.join('\n')}</ul>`
      : missing('kd and kd+mixup over two or more temperatures each, for one teacher')) +
    few +
    claimTail(5)
  );
}

function differenceText(
  d: Difference,
  scale: number,
  digits: number,
  unit: string,
): string {
  const value = `${fixed(d.value * scale, digits, true)} ${unit}`;
  return d.se === null
    ? `${value} (spread not measured: one seed; n = ${d.nA}, ${d.nB})`
    : `${value} ± ${fixed(d.se * scale, digits)} ${unit} (s.e.; n = ${d.nA}, ${d.nB})`;
}

function teacherSection(teacher: TeacherSummary, charts: RenderedChart[]): string {
  const heading =
    teacher.name === null
      ? 'Students without a teacher'
      : `Teacher ${teacher.name} (${teacher.architecture}, ${teacher.parameters} parameters)`;
  const id = `teacher-${(teacher.name ?? 'none').replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const parts = [`<section class="teacher" id="${esc(id)}">`, `<h2>${esc(heading)}</h2>`];
  if (teacher.test) {
    const t = teacher.test;
    const ts = teacher.temperatureScaling;
    parts.push(
      '<h3>The teacher on the test split</h3>',
      table(
        [
          'accuracy (%)',
          'ECE',
          'MCE',
          'conf − acc',
          'NLL',
          'Brier',
          'adaptive ECE',
          'post-hoc T',
          'ECE after T-scaling',
        ],
        [
          `<tr><td>${fixed(100 * t.accuracy, 2)}</td><td>${fixed(t.ece, 4)}</td>` +
            `<td>${fixed(t.mce, 4)}</td><td>${fixed(t.overconfidence, 4, true)}</td>` +
            `<td>${fixed(t.nll, 4)}</td><td>${fixed(t.brier, 4)}</td>` +
            `<td>${t.adaptiveEce === undefined ? '–' : fixed(t.adaptiveEce, 4)}</td>` +
            `<td>${ts ? fixed(ts.temperature, 3) : '–'}</td>` +
            `<td>${ts ? fixed(ts.eceAfter, 4) : '–'}</td></tr>`,
        ],
        0,
      ),
    );
  }
  parts.push('<h3>Students: mean ± std over seeds</h3>');
  if (teacher.arms.length === 0) {
    parts.push(missing('no student runs for this teacher'));
  } else {
    const rows = teacher.arms.map((arm) => {
      const cells = RUN_METRICS.map((m) => {
        const s = arm.metrics[m];
        return `<td>${s ? metricText(m, s) : '–'}</td>`;
      });
      return (
        `<tr><td class="name">${esc(arm.label)}</td><td>${arm.seeds.length}</td>` +
        `${cells.join('')}</tr>`
      );
    });
    parts.push(
      table(['arm', 'n', ...RUN_METRICS.map((m) => METRIC_FORMAT[m].title)], rows, 1),
    );
    const single = teacher.arms.filter((a) => a.seeds.length === 1).map((a) => a.label);
    if (single.length > 0) {
      parts.push(missing(`spread over seeds for ${single.join(', ')} (one seed)`));
    }
    const absent = RUN_METRICS.filter((m) => teacher.arms.every((a) => !a.metrics[m]));
    if (absent.length > 0) {
      parts.push(missing(absent.map((m) => METRIC_FORMAT[m].title).join(', ')));
    }
  }
  const has = (kind: ChartKind) => charts.some((c) => c.kind === kind);
  const show = (kinds: ChartKind[]) =>
    charts.filter((c) => kinds.includes(c.kind)).map(figure);
  parts.push('<h3>Calibration</h3>', ...show(['arm-metrics', 'reliability']));
  if (!has('reliability')) parts.push(missing('reliability bins'));
  parts.push('<h3>Temperature: accuracy vs ECE</h3>', ...show(['accuracy-vs-ece']));
  if (!has('accuracy-vs-ece')) parts.push(missing('no kd or kd+mixup runs'));
  parts.push(
    '<h3>Vicinal analysis</h3>',
    ...show(['vicinal-nonlinearity', 'vicinal-entropy', 'vicinal-alignment']),
  );
  if (!has('vicinal-nonlinearity'))
    parts.push(missing('no vicinal analysis for these runs'));
  parts.push(
    '<h3>Teacher signal on mixed inputs</h3>',
    ...show(['teacher-signal', 'teacher-signal-rest']),
  );
  if (!has('teacher-signal')) parts.push(missing('no vicinal analysis of this teacher'));
  parts.push('</section>');
  return parts.join('\n');
}

function transferSection(input: HtmlInput): string {
  const parts = ['<h2 id="transfer">Teacher-to-student calibration across teachers</h2>'];
  if (input.transferChart) parts.push(figure(input.transferChart));
  else parts.push(missing('no teacher with student runs'));
  return parts.join('\n');
}

function figure(chart: RenderedChart): string {
  return (
    `<figure class="chart" data-kind="${chart.kind}">` +
    `<figcaption>${esc(chart.title)}</figcaption>\n${chart.svg}\n</figure>`
  );
}

/** A table; the first `names` columns are left-aligned text. */
function table(head: string[], rows: string[], names: number): string {
  const th = head
    .map((h, i) => `<th${i < names ? ' class="name"' : ''}>${esc(h)}</th>`)
    .join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}
