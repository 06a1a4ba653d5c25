/** What a process's telemetry does, decided from its environment only. */
export interface TelemetrySettings {
  /** Traces are exported (OTEL_TRACES_EXPORTER or an OTLP endpoint is set). */
  traces: boolean;
  /** Metric exporters pushing periodically: OTLP and/or the console. */
  pushMetrics: ('otlp' | 'console')[];
  /** Port of the Prometheus `/metrics` endpoint (VICINAL_METRICS_PORT); null = off. */
  metricsPort: number | null;
  /** Interface the `/metrics` endpoint binds (VICINAL_METRICS_HOST; default all). */
  metricsHost: string | undefined;
  /** Push interval of the metric exporters (OTEL_METRIC_EXPORT_INTERVAL, ms). */
  exportIntervalMs: number;
  /** Whether OTEL_SERVICE_NAME (or service.name in the resource) names the service. */
  serviceNamed: boolean;
}

type Env = Record<string, string | undefined>;

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/**
 * Reads the standard OTEL_* variables, plus VICINAL_METRICS_PORT/HOST for
 * the Prometheus endpoint. Everything is off unless asked for: traces need
 * OTEL_TRACES_EXPORTER (otlp, console) or an OTLP endpoint; pushed metrics
 * need OTEL_METRICS_EXPORTER or an OTLP endpoint. OTEL_SDK_DISABLED=true
 * turns all of it off, the `/metrics` endpoint included.
 */
export function telemetrySettings(env: Env = process.env): TelemetrySettings {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const endpoint = (signal: 'TRACES' | 'METRICS') =>
    Boolean(
      env.OTEL_EXPORTER_OTLP_ENDPOINT || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`],
    );
  const tracesExporters = list(env.OTEL_TRACES_EXPORTER);
  const traces =
    !disabled &&
    !tracesExporters.includes('none') &&
    (tracesExporters.length > 0 || endpoint('TRACES'));
  const metricsExporters = list(env.OTEL_METRICS_EXPORTER);
  const pushMetrics = disabled
    ? []
    : metricsExporters.length === 0
      ? endpoint('METRICS')
        ? (['otlp'] as const)
        : []
      : metricsExporters.includes('none')
        ? []
        : metricsExporters.filter((e): e is 'otlp' | 'console' =>
            ['otlp', 'console'].includes(e),
          );
  return {
    traces,
    pushMetrics: [...pushMetrics],
    metricsPort: disabled ? null : port(env.VICINAL_METRICS_PORT),
    metricsHost: env.VICINAL_METRICS_HOST || undefined,
    exportIntervalMs: positive(env.OTEL_METRIC_EXPORT_INTERVAL) ?? 60_000,
    serviceNamed:
      Boolean(env.OTEL_SERVICE_NAME) ||
      /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? ''),
  };
}

function port(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new RangeError(`VICINAL_METRICS_PORT: expected a port 1-65535, got "${value}"`);
  }
  return n;
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : undefined;
}
