export {
  type AdaptiveCalibration,
  type AdaptiveCalibrationBins,
  type AdaptiveCalibrationOptions,
  adaptiveCalibration,
  adaptiveCalibrationError,
} from './adaptive-calibration.js';
export { binIndex } from './bins.js';
export {
  accuracy,
  averageConfidence,
  brierScore,
  type CalibrationMetrics,
  type CalibrationOptions,
  type CalibrationReport,
  type CalibrationReportOptions,
  calibrationMetrics,
  calibrationReport,
  DEFAULT_CALIBRATION_BINS,
  expectedCalibrationError,
  maxCalibrationError,
  NLL_PROBABILITY_FLOOR,
  negativeLogLikelihood,
  overconfidence,
  type Predictions,
  predictionsOf,
  type ReliabilityBins,
  reliabilityBins,
  type ScoreKind,
} from './calibration.js';
export {
  type Labels,
  type Matrix,
  MetricInputError,
  type ScoreMatrix,
  toMatrix,
} from './matrix.js';
export { softmax } from './softmax.js';
export {
  fitTemperature,
  nllAtTemperature,
  type TemperatureFit,
  type TemperatureFitOptions,
} from './temperature-scaling.js';
export {
  byLambdaBin,
  DEFAULT_LAMBDA_BINS,
  entropyRows,
  klDivergenceRows,
  type LambdaBin,
  meanInLambdaRange,
  VICINAL_EPSILON,
  vicinalNonLinearity,
} from './vicinal.js';
export {
  analyseVicinalPairs,
  DEFAULT_PEAK_RANGE,
  VICINAL_MEASURES,
  type VicinalAnalysis,
  type VicinalAnalysisOptions,
  type VicinalBins,
  type VicinalMeasure,
  type VicinalPairMeasures,
  type VicinalPairsInput,
  type VicinalSummary,
  vicinalPairMeasures,
} from './vicinal-analysis.js';
