import { type Context, context, propagation } from '@opentelemetry/api';

/** Reads and writes string headers of some message or call metadata. */
export interface HeaderCarrier {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  keys(): string[];
}

/**
 * Writes the active trace context (W3C traceparent/tracestate, baggage) into
 * `carrier`, with the propagators the SDK was started with.
 */
export function injectTraceContext(carrier: HeaderCarrier, from?: Context): void {
  propagation.inject(from ?? context.active(), carrier, {
    set: (c, key, value) => c.set(key, value),
  });
}

/** The context `carrier` carries, on top of the active one. */
export function extractTraceContext(carrier: HeaderCarrier): Context {
  return propagation.extract(context.active(), carrier, {
    get: (c, key) => c.get(key),
    keys: (c) => c.keys(),
  });
}

/** A carrier over a plain object of headers. */
export function recordCarrier(record: Record<string, string>): HeaderCarrier {
  return {
    get: (key) => record[key],
    set: (key, value) => {
      record[key] = value;
    },
    keys: () => Object.keys(record),
  };
}
