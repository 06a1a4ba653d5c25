import { headers, type MsgHdrs } from '@nats-io/transport-node';
import {
  type Context,
  extractTraceContext,
  type HeaderCarrier,
  injectTraceContext,
} from '@vicinal/telemetry';

/** NATS message headers as a carrier of W3C trace context. */
export function natsHeaderCarrier(h: MsgHdrs): HeaderCarrier {
  return {
    get: (key) => (h.has(key) ? h.get(key) : undefined),
    set: (key, value) => h.set(key, value),
    keys: () => h.keys(),
  };
}

/**
 * Headers holding the active trace context (traceparent, tracestate,
 * baggage), or undefined when nothing is being traced, so untraced messages
 * carry no headers at all.
 */
export function traceHeaders(from?: Context): MsgHdrs | undefined {
  const h = headers();
  injectTraceContext(natsHeaderCarrier(h), from);
  return h.keys().length > 0 ? h : undefined;
}

/** The trace context a received message carries (the active one if none). */
export function messageTraceContext(h: MsgHdrs | undefined): Context {
  return extractTraceContext(h ? natsHeaderCarrier(h) : emptyCarrier);
}

const emptyCarrier: HeaderCarrier = {
  get: () => undefined,
  set: () => {},
  keys: () => [],
};
