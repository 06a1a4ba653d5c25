import { metrics, trace } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  ConsoleMetricExporter,
  type IMetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type TelemetrySettings, telemetrySettings } from './settings.js';

/** Longest a shutdown waits for the last export. */
const SHUTDOWN_MS = 5000;

let metricReaders = 0;

/**
 * Whether recorded metrics go anywhere (a /metrics endpoint or a push
 * exporter): lets a caller skip work done only to feed a metric.
 */
export function metricsActive(): boolean {
  return metricReaders > 0;
}

export interface TelemetryOptions {
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Span processors to use instead of the exporters the environment names. */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers, on top of the ones the environment names. */
  metricReaders?: IMetricReader[];
}

/** The running SDK of one process. */
export interface Telemetry {
  readonly settings: TelemetrySettings;
  /** Port the Prometheus `/metrics` endpoint listens on, if any. */
  readonly metricsPort: number | null;
  /** Exports whatever is buffered (spans and pushed metrics). */
  forceFlush(): Promise<void>;
  /**
   * Flushes and stops the exporters (waiting at most 5 s for the last
   * export); call before the process exits.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry for one service, configured by the standard OTEL_*
 * variables (service name and resource attributes, exporter, OTLP endpoint
 * and protocol, sampler, propagators) and VICINAL_METRICS_PORT for a
 * Prometheus `/metrics` endpoint. With nothing set it registers nothing, so
 * spans and metrics stay no-ops. `defaultServiceName` applies only when
 * OTEL_SERVICE_NAME does not name the service.
 */
export async function startTelemetry(
  defaultServiceName: string,
  options: TelemetryOptions = {},
): Promise<Telemetry> {
  const settings = telemetrySettings(options.env ?? process.env);
  const readers: IMetricReader[] = [...(options.metricReaders ?? [])];
  let prometheus: PrometheusExporter | null = null;
  if (settings.metricsPort !== null) {
    prometheus = await startPrometheus(settings.metricsPort, settings.metricsHost);
    readers.push(prometheus);
  }
  for (const kind of settings.pushMetrics) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: kind === 'console' ? new ConsoleMetricExporter() : await otlpMetrics(),
        exportIntervalMillis: settings.exportIntervalMs,
        exportTimeoutMillis: Math.min(30_000, settings.exportIntervalMs),
      }),
    );
  }
  const spanProcessors = options.spanProcessors ?? (settings.traces ? undefined : []);
  const tracing = settings.traces || (options.spanProcessors?.length ?? 0) > 0;
  if (!tracing && readers.length === 0) return inactive(settings);

  const sdk = new NodeSDK({
    serviceName: settings.serviceNamed ? undefined : defaultServiceName,
    // undefined: the exporters OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_* name.
    spanProcessors,
    metricReaders: readers,
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  metricReaders += readers.length;
  const provider = metrics.getMeterProvider() as { forceFlush?: () => Promise<void> };
  let stopped: Promise<void> | null = null;
  return {
    settings,
    metricsPort: settings.metricsPort,
    async forceFlush() {
      const tracer = trace.getTracerProvider() as {
        getDelegate?: () => { forceFlush?: () => Promise<void> };
      };
      await Promise.all([
        tracer.getDelegate?.().forceFlush?.(),
        readers.length > 0 ? provider.forceFlush?.() : undefined,
      ]);
    },
    shutdown() {
      // A collector that does not answer must not hold a stopping process for
      // long: the last export gets SHUTDOWN_MS, then the process goes on.
      if (!stopped) metricReaders -= readers.length;
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SHUTDOWN_MS);
        timer.unref();
        sdk.shutdown().then(
          () => resolve(),
          () => resolve(),
        );
      });
      return stopped;
    },
  };
}

function inactive(settings: TelemetrySettings): Telemetry {
  return {
    settings,
    metricsPort: null,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** The `/metrics` endpoint; rejects when the port cannot be bound. */
function startPrometheus(port: number, host?: string): Promise<PrometheusExporter> {
  return new Promise((resolve, reject) => {
    const exporter = new PrometheusExporter({ port, host }, (err) => {
      if (err) reject(new Error(`metrics endpoint on port ${port}: ${err.message}`));
      else resolve(exporter);
    });
  });
}

/** The OTLP metric exporter of OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL. */
async function otlpMetrics(): Promise<PushMetricExporter> {
  const protocol = (
    process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ??
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol === 'grpc') {
    return new (
      await import('@opentelemetry/exporter-metrics-otlp-grpc')
    ).OTLPMetricExporter();
  }
  if (protocol === 'http/json') {
    return new (
      await import('@opentelemetry/exporter-metrics-otlp-http')
    ).OTLPMetricExporter();
  }
  return new (
    await import('@opentelemetry/exporter-metrics-otlp-proto')
  ).OTLPMetricExporter();
}
