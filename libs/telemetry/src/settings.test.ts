import assert from 'node:assert/strict';
import { test } from 'node:test';
import { telemetrySettings } from './settings.js';

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

test('nothing set: no traces, no metrics, no /metrics port', () => {
  const s = telemetrySettings({});
  assert.equal(s.traces, false);
  assert.deepEqual(s.pushMetrics, []);
  assert.equal(s.metricsPort, null);
  assert.equal(s.serviceNamed, false);
});

test('an OTLP endpoint turns on traces and pushed metrics', () => {
  const s = telemetrySettings(endpoint);
  assert.equal(s.traces, true);
  assert.deepEqual(s.pushMetrics, ['otlp']);
  assert.equal(
    telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'x' }).traces,
    true,
  );
  assert.deepEqual(
    telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'x' }).pushMetrics,
    [],
  );
});

test('the exporter variables choose, and "none" wins', () => {
  assert.equal(telemetrySettings({ OTEL_TRACES_EXPORTER: 'console' }).traces, true);
  assert.equal(
    telemetrySettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).traces,
    false,
  );
  assert.deepEqual(
    telemetrySettings({ ...endpoint, OTEL_METRICS_EXPORTER: 'none' }).pushMetrics,
    [],
  );
  assert.deepEqual(
    telemetrySettings({ OTEL_METRICS_EXPORTER: 'console, otlp' }).pushMetrics,
    ['console', 'otlp'],
  );
});

test('OTEL_SDK_DISABLED turns everything off, /metrics included', () => {
  const s = telemetrySettings({
    ...endpoint,
    OTEL_TRACES_EXPORTER: 'otlp',
    VICINAL_METRICS_PORT: '9464',
    OTEL_SDK_DISABLED: 'TRUE',
  });
  assert.equal(s.traces, false);
  assert.deepEqual(s.pushMetrics, []);
  assert.equal(s.metricsPort, null);
});

test('VICINAL_METRICS_PORT must be a port; OTEL names the service', () => {
  assert.equal(telemetrySettings({ VICINAL_METRICS_PORT: '9464' }).metricsPort, 9464);
  assert.equal(telemetrySettings({ VICINAL_METRICS_PORT: '' }).metricsPort, null);
  assert.throws(
    () => telemetrySettings({ VICINAL_METRICS_PORT: '94640' }),
    /VICINAL_METRICS_PORT: expected a port 1-65535, got "94640"/,
  );
  assert.equal(telemetrySettings({ OTEL_SERVICE_NAME: 'x' }).serviceNamed, true);
  assert.equal(
    telemetrySettings({ OTEL_RESOURCE_ATTRIBUTES: 'a=b, service.name=x' }).serviceNamed,
    true,
  );
  assert.equal(
    telemetrySettings({ OTEL_RESOURCE_ATTRIBUTES: 'my.service.name=x' }).serviceNamed,
    false,
  );
  assert.equal(
    telemetrySettings({ OTEL_METRIC_EXPORT_INTERVAL: '5000' }).exportIntervalMs,
    5000,
  );
});
