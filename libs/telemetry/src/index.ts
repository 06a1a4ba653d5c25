export { type Instruments, instruments } from './instruments.js';
export { createLogger, LOG_LEVELS, type Logger } from './logger.js';
export {
  extractTraceContext,
  type HeaderCarrier,
  injectTraceContext,
  recordCarrier,
} from './propagation.js';
export {
  metricsActive,
  startTelemetry,
  type Telemetry,
  type TelemetryOptions,
} from './sdk.js';
export { type TelemetrySettings, telemetrySettings } from './settings.js';
export {
  type Attributes,
  activeLink,
  type Context,
  failSpan,
  inSpan,
  type Link,
  type Span,
  SpanKind,
  type SpanOptions,
  startSpan,
  type TimeInput,
  tracer,
  withSpan,
} from './spans.js';
