import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { currentTraceparent, startTracing } from '../../platform/observability/tracing.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';

const base = { DCR_SANDBOX: '1', DCR_DATA_DIR: '/tmp/dcr-tracing-config' };
const tracing = (env: Record<string, string>) => loadConfig({ ...base, ...env }).tracing;

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('tracing configuration (standard OTEL_* variables)', () => {
  it('is off by default, and then loads and registers nothing', async () => {
    const config = tracing({});
    expect(config.enabled).toBe(false);
    const warnings: string[] = [];
    expect(await startTracing(config, 'test', { warn: (_o, m) => warnings.push(m) })).toBeNull();
    // The API's tracer is its no-op one: spans carry no context, so nothing is propagated.
    const span = trace.getTracer('probe').startSpan('probe');
    expect(span.isRecording()).toBe(false);
    expect(currentTraceparent()).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('turns on with an OTLP endpoint: the traces URL, http/protobuf, parent-based always-on sampling', () => {
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      enabled: true,
      exporters: ['otlp'],
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      timeoutMs: 10_000,
      headers: {},
    });
    // The signal-specific URL is used as given and wins over the base one.
    expect(
      tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b.example/otlp/traces' }).endpoint,
    ).toBe('https://b.example/otlp/traces');
  });

  it('turns on with OTEL_TRACES_EXPORTER alone (default endpoint localhost:4318) and off with none or OTEL_SDK_DISABLED', () => {
    expect(tracing({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ enabled: true, exporters: ['otlp'], endpoint: 'http://localhost:4318/v1/traces' });
    expect(tracing({ OTEL_TRACES_EXPORTER: 'console,otlp' }).exporters).toEqual(['console', 'otlp']);
    expect(tracing({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled).toBe(false);
    expect(tracing({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled).toBe(false);
    expect(tracing({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled).toBe(true);
  });

  it('reads the protocol, headers, timeout, service name, resource attributes and sampler', () => {
    const config = tracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D,tenant=bank',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'tenant=traces',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_SERVICE_NAME: 'dcr-intake-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=dcr',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(config).toMatchObject({
      protocol: 'http/json',
      headers: { 'x-api-key': 'abc==', tenant: 'traces' },
      timeoutMs: 2500,
      serviceName: 'dcr-intake-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.namespace': 'dcr' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('refuses invalid values with one line naming the variable (and never repeating a header value)', () => {
    expect(refusal({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'otlp' })).toMatch(/^OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' is not supported/);
    expect(refusal({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: /);
    expect(refusal({ OTEL_TRACES_EXPORTER: 'zipkin' })).toMatch(/^OTEL_TRACES_EXPORTER: 'zipkin' is not supported/);
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
    expect(refusal({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://c/v1/traces' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /);
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw@c:4318' })).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: must not carry credentials/);
    expect(refusal({ OTEL_TRACES_SAMPLER: 'xray' })).toMatch(/^OTEL_TRACES_SAMPLER: must be one of always_on, /);
    expect(refusal({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toMatch(/^OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1/);
    expect(refusal({ OTEL_TRACES_SAMPLER_ARG: 'half' })).toMatch(/^OTEL_TRACES_SAMPLER_ARG: /);
    expect(refusal({ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' })).toMatch(/^OTEL_EXPORTER_OTLP_TIMEOUT: must be an integer/);
    expect(refusal({ OTEL_EXPORTER_OTLP_TIMEOUT: '0' })).toMatch(/^OTEL_EXPORTER_OTLP_TIMEOUT: /);
    expect(refusal({ OTEL_SDK_DISABLED: 'maybe' })).toMatch(/^OTEL_SDK_DISABLED: must be true or false/);
    expect(refusal({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toMatch(/^OTEL_RESOURCE_ATTRIBUTES: must be a comma-separated list of key=value pairs/);
    const header = refusal({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%ZZsecret' });
    expect(header).toMatch(/^OTEL_EXPORTER_OTLP_HEADERS: /);
    expect(header).not.toContain('secret');
  });

  it('runs one SDK per process: a second start is refused; after shutdown the API is a no-op again', async () => {
    const receiver = await startOtlpReceiver();
    const config = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'probe-service' });
    const warnings: string[] = [];
    const logger = { warn: (_o: object, m: string) => warnings.push(m) };
    const first = await startTracing(config, 'test', logger);
    expect(first).not.toBeNull();
    try {
      await expect(startTracing(config, 'test', logger)).rejects.toThrow('OpenTelemetry tracing is already started in this process');
      const span = trace.getTracer('probe').startSpan('probe');
      expect(span.isRecording()).toBe(true);
      span.end();
    } finally {
      await first?.shutdown();
      await receiver.close();
    }
    expect(receiver.spans().map((s) => [s.name, s.service])).toEqual([['probe', 'probe-service']]);
    // The refused second registration is the only thing the SDK reported.
    expect(warnings).toEqual([expect.stringContaining('Attempted duplicate registration of API: trace')]);
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });
});
