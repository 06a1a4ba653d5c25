import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregateResults, type StudyAggregate } from './aggregate.js';
import {
  accuracyEceChart,
  armMetricsChart,
  type Chart,
  calibrationTransferChart,
  reliabilityChart,
  renderSvg,
  teacherSignalCharts,
  vicinalCharts,
} from './charts.js';
import { type ClaimsData, claimsData } from './claims.js';
import { csvTables, csvText } from './csv.js';
import { type RenderedChart, reportHtml } from './html.js';
import { parseResults, type StudyResults } from './results.js';

/** What writeReport wrote. */
export interface ReportFiles {
  html: string;
  json: string;
  csv: string[];
}

/** The contents of report.json: every aggregated number of the report. */
export interface ReportData extends StudyAggregate {
  conventions: Record<string, string>;
  claims: ClaimsData;
}

/**
 * Writes the study report into `outDir` (created if needed): report.html
 * (self-contained: inline CSS and SVG charts, no scripts, no outside
 * addresses), report.json with the aggregated numbers and one CSV file per
 * table. The results are validated first (a ResultsError names the field).
 */
export async function writeReport(
  results: StudyResults,
  outDir: string,
): Promise<ReportFiles> {
  const checked = parseResults(results, 'results');
  const aggregate = aggregateResults(checked);
  const claims = claimsData(aggregate);
  const teacherCharts: RenderedChart[][] = [];
  for (const teacher of aggregate.teachers) {
    const charts = [
      armMetricsChart(teacher),
      reliabilityChart(teacher),
      accuracyEceChart(teacher),
      ...vicinalCharts(teacher),
      ...teacherSignalCharts(teacher),
    ].filter((c): c is Chart => c !== null);
    teacherCharts.push(await renderAll(charts));
  }
  const transfer = calibrationTransferChart(claims.claim4.points);
  const transferChart = transfer ? (await renderAll([transfer]))[0] : null;
  const tables = csvTables(checked, aggregate, claims);
  const html = reportHtml({
    aggregate,
    claims,
    teacherCharts,
    transferChart,
    csvFiles: tables.map((t) => t.file),
  });
  const data: ReportData = {
    ...aggregate,
    conventions: {
      std: 'sample standard deviation over seeds (divisor n - 1); null for one seed',
      difference: 'difference of means; se = sqrt(s1^2/n1 + s2^2/n2), null with one seed',
      units:
        'accuracy, ECE, MCE, over-confidence as fractions (the HTML shows accuracy in %)',
      vicinal: 'per-bin values are means over runs of each run’s bin means',
    },
    claims,
  };
  await mkdir(outDir, { recursive: true });
  const files: ReportFiles = {
    html: join(outDir, 'report.html'),
    json: join(outDir, 'report.json'),
    csv: tables.map((t) => join(outDir, t.file)),
  };
  await writeFile(files.html, html);
  await writeFile(files.json, `${JSON.stringify(data, null, 2)}\n`);
  for (const [i, table] of tables.entries())
    await writeFile(files.csv[i], csvText(table));
  return files;
}

async function renderAll(charts: Chart[]): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const chart of charts) {
    out.push({ kind: chart.kind, title: chart.title, svg: await renderSvg(chart.spec) });
  }
  return out;
}
