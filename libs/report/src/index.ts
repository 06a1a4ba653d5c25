export {
  type ArmSummary,
  aggregateAnalyses,
  aggregateResults,
  armLabel,
  type PooledReliability,
  poolReliability,
  RUN_METRICS,
  type RunMetric,
  type Spread,
  type StudyAggregate,
  spreadOf,
  type TeacherSummary,
  type VicinalAggregate,
} from './aggregate.js';
export { CHART_KINDS, type Chart, type ChartKind, renderSvg } from './charts.js';
export {
  CLAIMS,
  type ClaimsData,
  claimsData,
  type Difference,
  differenceOf,
} from './claims.js';
export { type CsvTable, csvText } from './csv.js';
export { NOT_MEASURED } from './html.js';
export {
  parseResults,
  RESULTS_FILE,
  ResultsError,
  type RunResult,
  readResults,
  runResultSchema,
  type StudyResults,
  studyResultsSchema,
  type TeacherResult,
  teacherResultSchema,
  vicinalAnalysisSchema,
} from './results.js';
export { type ReportData, type ReportFiles, writeReport } from './write-report.js';
