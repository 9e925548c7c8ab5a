import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** One span as OTLP/JSON carries it (opentelemetry-proto trace/v1, JSON mapping: hex ids, kind as a number). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number; message?: string };
}

/** OTLP SpanKind values. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpRequest {
  path: string;
  contentType: string;
  body: Buffer;
}

export interface OtlpReceiver {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  requests: OtlpRequest[];
  /** Every span of the JSON requests received so far, with its resource's `service.name`. */
  spans(): Array<OtlpSpan & { service: string | undefined }>;
  /** Resolves with the spans once `predicate` holds for those received (checked on each export), or rejects after `timeoutMs`. */
  waitFor(predicate: (spans: Array<OtlpSpan & { service: string | undefined }>) => boolean, timeoutMs: number): Promise<Array<OtlpSpan & { service: string | undefined }>>;
  close(): Promise<void>;
}

/** The attribute's value as a JS value (string, number, boolean), or undefined. */
export function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (typeof value.doubleValue === 'number') return value.doubleValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A minimal OTLP/HTTP collector on loopback: accepts `POST /v1/traces` (protobuf or JSON, gzip or
 * not), answers 200 with an empty ExportTraceServiceResponse, and keeps what it received.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  const listeners = new Set<() => void>();
  const server = createServer((req, res) => {
    readBody(req).then(
      (raw) => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const contentType = String(req.headers['content-type'] ?? '');
        requests.push({ path: req.url, contentType, body });
        for (const l of listeners) l();
        res.writeHead(200, { 'content-type': contentType.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' }).end();
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const spans = receiver.spans();
          if (!predicate(spans)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(spans);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`the expected spans were not exported within ${timeoutMs} ms (got: ${receiver.spans().map((s) => `${s.service}:${s.name}`).join(', ')})`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    spans() {
      const out: Array<OtlpSpan & { service: string | undefined }> = [];
      for (const r of requests) {
        if (!r.contentType.startsWith('application/json')) continue;
        const doc = JSON.parse(r.body.toString('utf8')) as {
          resourceSpans?: Array<{ resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
        };
        for (const rs of doc.resourceSpans ?? []) {
          const service = attribute({ attributes: rs.resource?.attributes ?? [] } as OtlpSpan, 'service.name');
          for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) out.push({ ...span, service: typeof service === 'string' ? service : undefined });
        }
      }
      return out;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return receiver;
}
