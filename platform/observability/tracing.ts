import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type DiagLogger,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { currentTraceparent, inSpan, tracer } from '../../core/pipeline/stage-tracing.js';

export { currentTraceparent };

/**
 * OpenTelemetry tracing, the one module that knows about it. The rest of the code calls the small
 * API below and works the same whether tracing is on or off:
 *
 * - {@link startTracing} loads and registers the SDK (tracer provider, AsyncLocalStorage context
 *   manager, W3C Trace Context propagator) only when `config.tracing.enabled`; otherwise nothing
 *   beyond `@opentelemetry/api` is loaded and every span below is the API's no-op span.
 * - {@link traceHttpRequests}: a SERVER span per HTTP request of a Fastify app (intake, ops).
 * - {@link traceStage}: a CONSUMER span per stage run, child of the job's `traceparent`, so one
 *   registration's stages join one trace across the queue (BullMQ or the embedded queue).
 * - {@link traceOutbound}: a CLIENT span per outbound request of the allow-listed fetcher.
 * - {@link currentTraceparent}: the W3C `traceparent` of the active span, stored with the
 *   registration and carried by the next stage's job.
 *
 * The only state is what the OpenTelemetry API itself keeps (its global tracer provider, context
 * manager and propagator), registered by {@link startTracing} and removed by {@link Tracing.shutdown}.
 * Span attributes never carry secrets: no headers, no bodies, no query strings, no tokens.
 */

export type TracingConfig = Config['tracing'];

/** The running SDK of this process. */
export interface Tracing {
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left, then unregisters the SDK from the OpenTelemetry API. */
  shutdown(): Promise<void>;
}

export interface TracingLogger {
  warn(obj: object, msg: string): void;
}

const MAX_PATH_CHARS = 1024;

/**
 * Starts tracing for this process when configured (OTEL_* variables, see README "Tracing
 * (OpenTelemetry)"); returns null, loading nothing, when it is off. One SDK per process: a second
 * start while one runs is refused.
 */
export async function startTracing(config: TracingConfig, service: string, logger: TracingLogger): Promise<Tracing | null> {
  if (!config.enabled) return null;
  const [sdk, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { defaultResource, resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);

  const processors: SpanProcessor[] = [];
  for (const exporter of config.exporters) {
    if (exporter === 'console') {
      processors.push(new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() }));
      continue;
    }
    const options = { url: config.endpoint, headers: { ...config.headers }, timeoutMillis: config.timeoutMs };
    const { OTLPTraceExporter } =
      config.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
    processors.push(new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(options) }));
  }

  const ratio = new sdk.TraceIdRatioBasedSampler(config.samplerRatio);
  const sampler = {
    always_on: new sdk.AlwaysOnSampler(),
    always_off: new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdk.ParentBasedSampler({ root: ratio }),
  }[config.sampler];

  const resource = defaultResource().merge(
    resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName ?? config.resourceAttributes['service.name'] ?? `dcr-${service}` }),
  );
  const provider = new sdk.TracerProvider({ resource, sampler, spanProcessors: processors });

  if (!trace.setGlobalTracerProvider(provider)) {
    await provider.shutdown();
    throw new Error('OpenTelemetry tracing is already started in this process');
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // W3C Trace Context only: no baggage is taken from callers (a TPP's baggage never enters our context).
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // The SDK reports export failures through `diag`; they become warnings of this service's log.
  const warn = (message: string, ...args: unknown[]) =>
    logger.warn(
      { detail: args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a.slice(0, 500) : undefined)).filter(Boolean) },
      `opentelemetry: ${message.slice(0, 500)}`,
    );
  const quiet = () => {};
  const diagLogger: DiagLogger = { error: warn, warn, info: quiet, debug: quiet, verbose: quiet };
  diag.setLogger(diagLogger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });

  // An unreachable collector costs spans, never a request or a clean shutdown.
  const exportFailed = (error: unknown) => warn('export failed; spans dropped', error);
  let stopped = false;
  return {
    flush: () => provider.forceFlush().catch(exportFailed),
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      await provider.shutdown().catch(exportFailed);
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
}

/**
 * A SERVER span per request of `app` (add it before the routes and plugins): parent from the
 * request's `traceparent`, named `METHOD route`, with the OpenTelemetry HTTP semantic conventions'
 * attributes but no headers, no query string and no body. The route's handler and its preHandler
 * hooks run in the span's context (entered at preValidation, after the body is read), so
 * {@link currentTraceparent} and outbound spans there belong to the request.
 */
export function traceHttpRequests(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, { span: Span; context: Context }>();
  const finish = (request: FastifyRequest, status: number | null) => {
    const entry = spans.get(request);
    if (!entry) return;
    spans.delete(request);
    const { span } = entry;
    if (status === null) {
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the response' });
    } else {
      span.setAttribute('http.response.status_code', status);
      // Server spans: only 5xx are errors (OpenTelemetry HTTP semantic conventions).
      if (status >= 500) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  };

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const path = request.url.split('?')[0] ?? '';
    const attributes: Attributes = {
      'http.request.method': request.method,
      'url.scheme': request.protocol,
      'url.path': path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) : path,
      'network.protocol.version': request.raw.httpVersion,
      'client.address': request.ip,
    };
    if (route) attributes['http.route'] = route;
    const userAgent = request.headers['user-agent'];
    if (typeof userAgent === 'string') attributes['user_agent.original'] = userAgent.slice(0, 256);
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer().startSpan(route ? `${request.method} ${route}` : request.method, { kind: SpanKind.SERVER, attributes }, parent);
    spans.set(request, { span, context: trace.setSpan(parent, span) });
    done();
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const entry = spans.get(request);
    if (entry) context.with(entry.context, done);
    else done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    finish(request, null);
    done();
  });
}

/**
 * A CLIENT span around one outbound HTTP request (`url` without its query string, which may carry
 * credentials). No trace context is sent to the remote host: it is a third party (a TPP's JWKS, a
 * directory), not part of this system.
 */
export function traceOutbound<T extends { status: number }>(method: string, url: URL, peerAddress: string, send: () => Promise<T>): Promise<T> {
  const attributes: Attributes = {
    'http.request.method': method,
    'server.address': url.hostname.replace(/^\[|\]$/g, ''),
    'server.port': url.port ? Number(url.port) : 443,
    'url.full': `${url.origin}${url.pathname}`,
    'network.peer.address': peerAddress,
  };
  return inSpan(method, { kind: SpanKind.CLIENT, attributes }, context.active(), async (span) => {
    const response = await send();
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 400) {
      span.setAttribute('error.type', String(response.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return response;
  });
}
