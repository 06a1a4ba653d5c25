import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

// An OTLP/HTTP receiver for tests: POST /v1/traces and /v1/metrics on a
// loopback port, bodies in http/protobuf or http/json. It keeps the spans
// and the metric names it was sent, each with the sending service's name.

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
}

export interface ReceivedMetric {
  service: string;
  name: string;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:PORT, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  /** Content types of the requests received, by path. */
  requests: { path: string; contentType: string }[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = req.url ?? '';
    const contentType = req.headers['content-type'] ?? '';
    requests.push({ path, contentType });
    const json = contentType.includes('json');
    try {
      if (path === '/v1/traces') {
        spans.push(...(json ? spansFromJson(body) : spansFromProtobuf(body)));
      } else if (path === '/v1/metrics') {
        metrics.push(...(json ? metricsFromJson(body) : metricsFromProtobuf(body)));
      } else {
        res.writeHead(404).end();
        return;
      }
    } catch (err) {
      res.writeHead(400).end(String(err));
      return;
    }
    // An empty Export*ServiceResponse: full success.
    res.writeHead(200, { 'content-type': json ? 'application/json' : contentType });
    res.end(json ? '{}' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---- http/json (ids are hex strings in OTLP JSON) ----

type JsonValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
};
type JsonKeyValue = { key: string; value: JsonValue };

function jsonAttributes(list: JsonKeyValue[] = []) {
  const out: ReceivedSpan['attributes'] = {};
  for (const { key, value } of list) {
    const v = value.stringValue ?? value.boolValue ?? value.intValue ?? value.doubleValue;
    if (v !== undefined)
      out[key] = typeof v === 'string' && 'intValue' in value ? Number(v) : v;
  }
  return out;
}

function spansFromJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8'));
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const service = String(jsonAttributes(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          attributes: jsonAttributes(s.attributes),
          links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
            traceId: l.traceId,
            spanId: l.spanId,
          })),
        });
      }
    }
  }
  return out;
}

function metricsFromJson(body: Buffer): ReceivedMetric[] {
  const request = JSON.parse(body.toString('utf8'));
  const out: ReceivedMetric[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    const service = String(jsonAttributes(rm.resource?.attributes)['service.name'] ?? '');
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) out.push({ service, name: m.name });
    }
  }
  return out;
}

// ---- http/protobuf: a minimal reader of the protobuf wire format ----

type Field = { number: number; varint?: bigint; bytes?: Buffer; fixed?: Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ number, varint: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ number, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      out.push({ number, fixed: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
  return out;
}

const all = (fs: Field[], n: number) =>
  fs.filter((f) => f.number === n && f.bytes).map((f) => f.bytes as Buffer);
const first = (fs: Field[], n: number) => fs.find((f) => f.number === n);
const text = (fs: Field[], n: number) => first(fs, n)?.bytes?.toString('utf8') ?? '';
const hex = (fs: Field[], n: number) => first(fs, n)?.bytes?.toString('hex') ?? '';

/** KeyValue { key = 1; AnyValue value = 2 { string 1, bool 2, int 3, double 4 } }. */
function protoAttributes(list: Buffer[]) {
  const out: ReceivedSpan['attributes'] = {};
  for (const kv of list) {
    const f = fields(kv);
    const value = fields(first(f, 2)?.bytes ?? Buffer.alloc(0));
    const v = first(value, 1) ?? first(value, 2) ?? first(value, 3) ?? first(value, 4);
    if (!v) continue;
    out[text(f, 1)] =
      v.number === 1
        ? (v.bytes?.toString('utf8') ?? '')
        : v.number === 2
          ? v.varint === 1n
          : v.number === 3
            ? Number(BigInt.asIntN(64, v.varint ?? 0n))
            : (v.fixed?.readDoubleLE(0) ?? 0);
  }
  return out;
}

function serviceOf(resource: Buffer | undefined): string {
  if (!resource) return '';
  return String(protoAttributes(all(fields(resource), 1))['service.name'] ?? '');
}

/** ExportTraceServiceRequest: resource_spans 1 { resource 1, scope_spans 2 { spans 2 } }. */
function spansFromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of all(fields(body), 1)) {
    const rsf = fields(rs);
    const service = serviceOf(first(rsf, 1)?.bytes);
    for (const ss of all(rsf, 2)) {
      for (const span of all(fields(ss), 2)) {
        const f = fields(span);
        out.push({
          service,
          traceId: hex(f, 1),
          spanId: hex(f, 2),
          parentSpanId: hex(f, 4),
          name: text(f, 5),
          kind: Number(first(f, 6)?.varint ?? 0n),
          attributes: protoAttributes(all(f, 9)),
          links: all(f, 13).map((l) => {
            const lf = fields(l);
            return { traceId: hex(lf, 1), spanId: hex(lf, 2) };
          }),
        });
      }
    }
  }
  return out;
}

/** ExportMetricsServiceRequest: resource_metrics 1 { resource 1, scope_metrics 2 { metrics 2 { name 1 } } }. */
function metricsFromProtobuf(body: Buffer): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of all(fields(body), 1)) {
    const rmf = fields(rm);
    const service = serviceOf(first(rmf, 1)?.bytes);
    for (const sm of all(rmf, 2)) {
      for (const m of all(fields(sm), 2)) out.push({ service, name: text(fields(m), 1) });
    }
  }
  return out;
}
