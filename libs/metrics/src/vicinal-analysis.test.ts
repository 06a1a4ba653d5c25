import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  analyseVicinalPairs,
  VICINAL_MEASURES,
  type VicinalPairsInput,
  vicinalPairMeasures,
} from './vicinal-analysis.js';

function close(actual: number | null, expected: number, what: string, tol = 1e-9): void {
  assert.ok(
    actual !== null && Math.abs(actual - expected) <= tol,
    `${what}: expected ${expected}, got ${actual}`,
  );
}

/** Row-wise lambda t_i + (1 - lambda) t_j. */
function mixRows(a: number[][], b: number[][], lambda: number[]): number[][] {
  return a.map((row, r) => row.map((v, k) => lambda[r] * v + (1 - lambda[r]) * b[r][k]));
}

const pI = [
  [0.7, 0.2, 0.1, 0],
  [0.1, 0.6, 0.2, 0.1],
  [0.25, 0.25, 0.25, 0.25],
];
const pJ = [
  [0.1, 0.1, 0.2, 0.6],
  [0.3, 0.3, 0.3, 0.1],
  [0.05, 0.05, 0.1, 0.8],
];
const lambda = [0.25, 0.5, 0.9];
const labelsI = [0, 1, 2];
const labelsJ = [3, 0, 3];

function input(overrides: Partial<VicinalPairsInput> = {}): VicinalPairsInput {
  const linear = mixRows(pI, pJ, lambda);
  return {
    lambda,
    labelsI,
    labelsJ,
    teacherI: pI,
    teacherJ: pJ,
    teacherMixed: linear,
    studentI: pI,
    studentJ: pJ,
    studentMixed: linear,
    ...overrides,
  };
}

describe('vicinalPairMeasures', () => {
  test('a teacher exactly linear in probability has L_NL = 0', () => {
    const m = vicinalPairMeasures(input());
    for (let r = 0; r < 3; r++) close(m.nonLinearityTeacher[r], 0, `L_NL[${r}]`, 1e-12);
  });

  test('identical teacher and student: zero gain, gap and alignment', () => {
    const mixed = [
      [0.5, 0.1, 0.1, 0.3],
      [0.2, 0.2, 0.5, 0.1],
      [0.1, 0.1, 0.1, 0.7],
    ];
    const m = vicinalPairMeasures(input({ teacherMixed: mixed, studentMixed: mixed }));
    for (let r = 0; r < 3; r++) {
      assert.ok(m.nonLinearityTeacher[r] > 0.01, 'the mixed output is not linear');
      close(m.linearityGain[r], 0, 'gain', 0);
      close(m.entropyGap[r], 0, 'entropy gap', 0);
      close(m.alignmentMixed[r], 0, 'alignment mixed', 1e-15);
      close(m.alignmentClean[r], 0, 'alignment clean', 1e-15);
      close(m.alignmentDegradation[r], 0, 'degradation', 1e-15);
    }
  });

  test('a uniform teacher output on x~: entropy log K and constituent mass 2/K', () => {
    const k = 4;
    const uniform = pI.map(() => new Array(k).fill(1 / k));
    // pair 1 has two equal labels: its constituent set is one class
    const m = vicinalPairMeasures(input({ teacherMixed: uniform, labelsJ: [3, 1, 3] }));
    const eps = 1e-10;
    const entropy = -k * (1 / k + eps) * Math.log(1 / k + eps);
    for (let r = 0; r < 3; r++) close(m.entropyTeacher[r], entropy, 'entropy', 1e-15);
    close(m.constituentMass[0], 2 / k, 'mass[0]', 1e-15);
    close(m.restMass[0], 1 - 2 / k, 'rest[0]', 1e-15);
    close(m.constituentMass[1], 1 / k, 'mass[1] (y_i = y_j)', 1e-15);
    close(m.restMass[1], 1 - 1 / k, 'rest[1]', 1e-15);
    // a uniform rest has no variance: its correlation is undefined
    assert.ok(Number.isNaN(m.restCorrelation[0]));
  });

  test('dark knowledge, clean-mix rest mass, rest KL and correlation by hand', () => {
    // K = 5, y_i = 0, y_j = 1, lambda = 0.5, rest classes {2, 3, 4}
    const m = vicinalPairMeasures({
      lambda: [0.5],
      labelsI: [0],
      labelsJ: [1],
      teacherI: [[0.5, 0, 0.15, 0.25, 0.1]],
      teacherJ: [[0.2, 0.6, 0.06, 0.1, 0.04]],
      teacherMixed: [[0.3, 0.2, 0.25, 0.15, 0.1]],
      studentI: [[0.2, 0.2, 0.2, 0.2, 0.2]],
      studentJ: [[0.2, 0.2, 0.2, 0.2, 0.2]],
      studentMixed: [[0.2, 0.2, 0.2, 0.2, 0.2]],
    });
    close(m.constituentMass[0], 0.5, 'constituent mass');
    close(m.restMass[0], 0.5, 'rest mass');
    close(m.darkKnowledge[0], 0.5 * 0.5 + 0.5 * 0.4, 'dark knowledge');
    close(m.restMassOfCleanMix[0], 0.5 * 0.5 + 0.5 * 0.2, 'rest of clean mix');
    // rest on x~ (0.5, 0.3, 0.2); both clean rests (0.3, 0.5, 0.2)
    close(
      m.restKl[0],
      0.5 * Math.log(0.5 / 0.3) + 0.3 * Math.log(0.3 / 0.5),
      'rest KL',
      1e-8,
    );
    close(m.restCorrelation[0], 1 / 7, 'rest correlation', 1e-8);
    // the student is uniform everywhere: linear, entropy log 5
    close(m.nonLinearityStudent[0], 0, 'student L_NL', 1e-12);
    close(m.entropyStudent[0], Math.log(5), 'student entropy', 1e-8);
  });

  test('the rest of a lambda = 0.25 pair, with one rest class at zero', () => {
    // K = 4, y_i = 0, y_j = 3: rest {1, 2}; clean rests (2/3, 1/3), (1/3, 2/3)
    const [m] = [
      vicinalPairMeasures({
        ...input(),
        lambda: [0.25],
        labelsI: [0],
        labelsJ: [3],
        teacherI: [pI[0]],
        teacherJ: [pJ[0]],
        teacherMixed: [[0.3, 0.1, 0.3, 0.3]],
        studentI: [pI[0]],
        studentJ: [pJ[0]],
        studentMixed: [[0.3, 0.1, 0.3, 0.3]],
      }),
    ];
    const mix = [0.25 * (2 / 3) + 0.75 * (1 / 3), 0.25 * (1 / 3) + 0.75 * (2 / 3)];
    const want = 0.25 * Math.log(0.25 / mix[0]) + 0.75 * Math.log(0.75 / mix[1]);
    close(m.restKl[0], want, 'rest KL', 1e-8);
    close(m.restCorrelation[0], 1, 'two classes, same order', 1e-12);
    close(m.darkKnowledge[0], 0.25 * 0.3 + 0.75 * 0.4, 'dark knowledge');
  });

  test('bad inputs are named', () => {
    assert.throws(
      () => vicinalPairMeasures(input({ labelsI: [0, 1, 4] })),
      /labelsI\[2\]/,
    );
    assert.throws(() => vicinalPairMeasures(input({ labelsJ: [0, 1] })), /labelsJ/);
    assert.throws(
      () => vicinalPairMeasures(input({ studentMixed: pI.slice(0, 2) })),
      /studentMixed/,
    );
    assert.throws(
      () => vicinalPairMeasures(input({ teacherJ: pJ.map((r) => [...r, 0]) })),
      /teacherJ/,
    );
  });
});

describe('analyseVicinalPairs', () => {
  // six pairs: two in bin 0, two in the peak band (bin 9 and 10), one at 1
  const lambdas = [0.01, 0.04, 0.46, 0.54, 0.7, 1];
  const k = 3;
  const n = lambdas.length;
  const rows = (f: (r: number) => number[]) => Array.from({ length: n }, (_, r) => f(r));
  const teacherMixed = rows((r) => [0.6 - 0.05 * r, 0.3, 0.1 + 0.05 * r]);
  const studentMixed = rows(() => [0.4, 0.3, 0.3]);
  const clean = rows(() => [0.8, 0.1, 0.1]);
  const pairs: VicinalPairsInput = {
    lambda: lambdas,
    labelsI: rows(() => [0]).map((r) => r[0]),
    labelsJ: rows(() => [1]).map((r) => r[0]),
    teacherI: clean,
    teacherJ: clean,
    teacherMixed,
    studentI: clean,
    studentJ: clean,
    studentMixed,
    numClasses: k,
  };

  test('per bin, peak and overall means agree with the per-pair values', () => {
    const analysis = analyseVicinalPairs(pairs);
    const perPair = vicinalPairMeasures(pairs);
    assert.equal(analysis.pairs, n);
    assert.equal(analysis.numClasses, k);
    assert.deepEqual(analysis.peakRange, [0.45, 0.55]);
    assert.equal(analysis.bins.lower.length, 20);
    assert.equal(analysis.bins.upper[19], 1);
    assert.deepEqual(
      analysis.bins.count,
      [2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    );
    for (const name of VICINAL_MEASURES) {
      const v = perPair[name];
      if (v.every(Number.isNaN)) {
        assert.ok(
          analysis.bins[name].every((x) => x === null),
          `${name}: all null`,
        );
        continue;
      }
      close(analysis.bins[name][0], (v[0] + v[1]) / 2, `${name} bin 0`, 1e-15);
      assert.equal(analysis.bins[name][1], null, `${name}: empty bin is null`);
      close(analysis.peak[name], (v[2] + v[3]) / 2, `${name} peak`, 1e-15);
      close(analysis.overall[name], v.reduce((a, b) => a + b, 0) / n, name, 1e-15);
    }
    assert.equal(analysis.peak.count, 2);
    assert.equal(analysis.overall.count, n);
    // constituent mass of the mixed teacher output is t~[0] + t~[1]
    close(analysis.peak.constituentMass, (0.9 - 0.1 + 0.9 - 0.15) / 2, 'mass', 1e-12);
    // K = 3 with two constituents leaves one rest class: correlation undefined
    assert.equal(analysis.overall.restCorrelation, null);
    close(analysis.overall.restKl, 0, 'one rest class: KL 0', 1e-12);
  });

  test('plain JSON: a round trip gives the same object', () => {
    const analysis = analyseVicinalPairs(pairs, { numBins: 4, peak: [0.4, 0.6] });
    assert.equal(analysis.bins.count.length, 4);
    assert.deepEqual(analysis.bins.count, [2, 1, 2, 1]);
    assert.deepEqual(JSON.parse(JSON.stringify(analysis)), analysis);
  });

  test('options are checked', () => {
    assert.throws(() => analyseVicinalPairs(pairs, { numBins: 0 }), /numBins/);
    assert.throws(() => analyseVicinalPairs(pairs, { peak: [0.6, 0.4] }), /peak/);
  });
});
