import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { startOps } from '../../services/ops/service.js';
import { startTestPipeline, type InfraUrls } from '../support/pipeline.js';
import { attribute, SPAN_KIND, startOtlpReceiver, type OtlpSpan } from '../support/otlp-receiver.js';

const infra = inject('infra') as InfraUrls;
const adapterSets: Array<[string, InfraUrls | undefined]> = [
  ['embedded', undefined],
  ['distributed (MongoDB + BullMQ + Kafka)', infra ?? null],
];

function only<T>(items: T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0] as T;
}

describe.each(adapterSets)('OpenTelemetry tracing, %s', (_name, infraUrls) => {
  const skip = infraUrls === null;

  it.skipIf(skip)('exports one registration as one trace over OTLP/HTTP: POST /register, verify, revocation, provision, outbound fetches', async () => {
    const adminToken = randomBytes(24).toString('base64url');
    const receiver = await startOtlpReceiver();
    const pipeline = await startTestPipeline({
      ...(infraUrls ? { infra: infraUrls } : {}),
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'dcr-trace-test',
        DCR_ADMIN_HOST: '127.0.0.1',
        DCR_ADMIN_PORT: '0',
        DCR_ADMIN_TOKEN: adminToken,
      },
    });
    const ops = await startOps(pipeline.rt, { announce: () => {} });
    const opsTraceId = randomBytes(16).toString('hex');
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    let token = '';
    let jwt = '';
    let clientId = '';
    let eventTraceparent: string | undefined;
    try {
      const tpp = await pipeline.createTpp();
      jwt = await tpp.sign(tpp.claims());
      // The TPP's own trace context: the pipeline's spans join it.
      const res = await tpp.post(jwt, { traceparent: `00-${traceId}-${callerSpanId}-01` });
      expect(res.status, res.text).toBe(201);
      token = String(res.json().registration_access_token);
      clientId = String(res.json().client_id);
      const created = await pipeline.waitForEvent((e) => e.type === 'dcr.client.created' && e.subject === clientId);
      eventTraceparent = created.traceparent;
      // An operator's request to the admin API is a span too (a trace of its own).
      const list = await fetch(`${ops.url}/admin/registrations?limit=5`, {
        headers: { authorization: `Bearer ${adminToken}`, traceparent: `00-${opsTraceId}-${randomBytes(8).toString('hex')}-01` },
      });
      expect(list.status).toBe(200);
    } finally {
      // Stopping ends every span (requests answered, stage jobs finished) and exports them all.
      await ops.stop();
      await pipeline.stop();
    }
    await receiver.close();

    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json'))).toBe(true);
    const spans = receiver.spans().filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    expect(spans.every((s) => s.service === 'dcr-trace-test')).toBe(true);

    const post = only(
      spans.filter((s) => s.name === 'POST /register'),
      'one POST /register span',
    );
    expect(post.kind).toBe(SPAN_KIND.server);
    expect(post.parentSpanId).toBe(callerSpanId);
    expect(attribute(post, 'http.request.method')).toBe('POST');
    expect(attribute(post, 'http.route')).toBe('/register');
    expect(attribute(post, 'url.path')).toBe('/register');
    expect(attribute(post, 'http.response.status_code')).toBe(201);

    // Each stage's successful run is a child of the span that queued its job: the request, then the previous stage.
    const advanced = (stage: string) =>
      only(
        spans.filter((s) => s.name === `stage ${stage}` && attribute(s, 'dcr.stage.outcome') === 'advanced'),
        `one advanced ${stage} run`,
      );
    const verify = advanced('verify');
    const revocation = advanced('revocation');
    const provision = advanced('provision');
    for (const s of [verify, revocation, provision]) {
      expect(s.kind).toBe(SPAN_KIND.consumer);
      expect(typeof attribute(s, 'dcr.request_id')).toBe('string');
    }
    expect(verify.parentSpanId).toBe(post.spanId);
    expect(revocation.parentSpanId).toBe(verify.spanId);
    expect(provision.parentSpanId).toBe(revocation.spanId);
    expect(new Set([verify, revocation, provision].map((s) => attribute(s, 'dcr.request_id'))).size).toBe(1);

    // Outbound fetches are CLIENT spans under the stage that made them; the verifier read the directory's JWKS.
    const outbound = spans.filter((s) => s.kind === SPAN_KIND.client);
    const stageSpanIds = new Set(spans.filter((s) => s.name.startsWith('stage ')).map((s) => s.spanId));
    expect(outbound.length).toBeGreaterThan(0);
    for (const s of outbound) {
      expect(stageSpanIds.has(s.parentSpanId ?? '')).toBe(true);
      expect(String(attribute(s, 'url.full'))).toMatch(/^https:\/\/localhost:\d+\/[^?]*$/);
      expect(attribute(s, 'http.response.status_code')).toBe(200);
    }
    const jwks = outbound.filter((s) => s.parentSpanId === verify.spanId && String(attribute(s, 'url.full')).endsWith('/directory/jwks'));
    expect(jwks.map((s) => attribute(s, 'http.request.method'))).toEqual(['GET']);

    // Parent links are consistent: every span but the request's hangs off another span of this trace.
    for (const s of spans) if (s !== post) expect(byId.has(s.parentSpanId ?? ''), `parent of ${s.name}`).toBe(true);
    // The events carry the request span's context (CloudEvents distributed tracing extension).
    expect(eventTraceparent).toBe(`00-${traceId}-${post.spanId}-01`);

    const opsSpan = only(
      receiver.spans().filter((s) => s.traceId === opsTraceId),
      'one span in the operator trace',
    );
    expect(opsSpan.name).toBe('GET /admin/registrations');
    expect(opsSpan.kind).toBe(SPAN_KIND.server);
    expect(attribute(opsSpan, 'url.path')).toBe('/admin/registrations');
    expect(attribute(opsSpan, 'http.response.status_code')).toBe(200);

    // No secrets in spans: not the registration access token, not the request JWT, no headers or bodies.
    const everything = JSON.stringify(receiver.requests.map((r) => r.body.toString('utf8')));
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(adminToken);
    expect(everything).not.toContain('limit=5');
    expect(everything).not.toContain(jwt.split('.')[1] ?? jwt);
    const keys = new Set(receiver.spans().flatMap((s: OtlpSpan) => (s.attributes ?? []).map((a) => a.key)));
    expect([...keys].filter((k) => /authorization|header|body|token|cookie|query/i.test(k))).toEqual([]);
  });
});

describe('OpenTelemetry tracing over OTLP/HTTP protobuf (the default protocol)', () => {
  it('exports protobuf to /v1/traces with the trace of the request', async () => {
    const receiver = await startOtlpReceiver();
    const pipeline = await startTestPipeline({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } });
    const traceId = randomBytes(16).toString('hex');
    try {
      const tpp = await pipeline.createTpp();
      const res = await tpp.post(await tpp.sign(tpp.claims()), { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
      expect(res.status).toBe(201);
    } finally {
      await pipeline.stop();
    }
    await receiver.close();
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const r of receiver.requests) expect(r.contentType).toBe('application/x-protobuf');
    // Span.trace_id is a 16-byte `bytes` field: the raw id is in the message.
    const all = Buffer.concat(receiver.requests.map((r) => r.body));
    expect(all.includes(Buffer.from(traceId, 'hex'))).toBe(true);
    expect(all.includes(Buffer.from('POST /register'))).toBe(true);
    expect(all.includes(Buffer.from('stage provision'))).toBe(true);
  });
});

describe('OpenTelemetry tracing with the collector down', () => {
  it('still registers (201, client stored) and stops cleanly: a failed export costs spans only', async () => {
    const receiver = await startOtlpReceiver();
    await receiver.close(); // a port nothing listens on any more
    const pipeline = await startTestPipeline({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_TIMEOUT: '1000' } });
    try {
      const tpp = await pipeline.createTpp();
      const res = await tpp.post(await tpp.sign(tpp.claims()));
      expect(res.status).toBe(201);
      const client = await pipeline.rt.adapters.store.getClient(String(res.json().client_id));
      expect(client?.status).toBe('active');
    } finally {
      // Rejects if the final export's failure escaped (rt.close → tracing.shutdown).
      await pipeline.stop();
    }
    expect(receiver.requests).toEqual([]);
  });
});
