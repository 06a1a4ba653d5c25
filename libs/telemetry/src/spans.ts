import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export { type Attributes, type Context, type Link, type Span, SpanKind, type TimeInput };

/** The tracer every vicinal span comes from (a no-op until telemetry starts). */
export function tracer(): Tracer {
  return trace.getTracer('vicinal');
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** Parent context; default the active one. */
  parent?: Context;
  /** Start a new trace even if a span is active (links keep the relation). */
  root?: boolean;
  startTime?: TimeInput;
}

/**
 * Runs `fn` inside a new span, which is active for everything `fn` starts.
 * The span ends when `fn` settles; an error is recorded and sets status ERROR.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const span = startSpan(name, options);
  try {
    return await context.with(
      trace.setSpan(options.parent ?? context.active(), span),
      () => fn(span),
    );
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Starts a span (not made active); end it with `span.end()`. */
export function startSpan(name: string, options: SpanOptions = {}): Span {
  return tracer().startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      attributes: options.attributes,
      links: options.links,
      root: options.root,
      startTime: options.startTime,
    },
    options.parent ?? context.active(),
  );
}

/** Runs `fn` with `span` as the active span. */
export function inSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Records `err` on the span and marks it failed. */
export function failSpan(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** The active span's context as a link target (null when nothing is traced). */
export function activeLink(attributes?: Attributes): Link | null {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext)
    ? { context: spanContext, attributes }
    : null;
}
