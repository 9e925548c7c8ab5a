// The consumers' contract: the generated JSON Schemas are committed and current, the AsyncAPI
// document parses and agrees with them, and the schemas refuse what must never leave the pipeline.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { CLIENT_EVENT_TYPES, REGISTRATION_EVENT_TYPES, TOPICS } from '../../core/domain/events.js';
import { toKafkaRecord } from '../../core/events/cloudevent.js';
import { EVENT_SCHEMAS, EVENT_TYPES, FORBIDDEN_MEMBERS, schemaFileName, topicOf } from '../../core/events/schemas.js';
import { validateEvent } from '../../core/events/validate.js';
import type { DeliveredEvent } from '../../core/ports/events.js';

const CONTRACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'contracts');

function clientCreated(overrides: Partial<DeliveredEvent> = {}): DeliveredEvent {
  return {
    specversion: '1.0',
    id: '01JDCR0000000000000000000A',
    type: 'dcr.client.created',
    source: 'urn:dcr:provisioner',
    subject: 'c1a2b3',
    time: '2026-11-25T12:00:00.000Z',
    datacontenttype: 'application/json',
    data: {
      client_id: 'c1a2b3',
      status: 'active',
      client_id_issued_at: 1_790_000_000,
      software_id: 'sw-1',
      org_id: 'org-1',
      software_roles: ['AISP'],
      scope: 'openid accounts',
      redirect_uris: ['https://tpp.example/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://keystore.example/org-1/sw-1.jwks',
    },
    topic: TOPICS.client,
    ...overrides,
  };
}

describe('event contract files (v1)', () => {
  it.each(EVENT_TYPES)('contracts/events/%s.v1.schema.json is generated from core/events/schemas.ts', async (type) => {
    await expect(`${JSON.stringify(EVENT_SCHEMAS[type], null, 2)}\n`).toMatchFileSnapshot(join(CONTRACTS, 'events', schemaFileName(type)));
  });

  it('every schema file is a valid draft-07 schema that compiles', () => {
    const ajv = new AjvModule.default({ strictTypes: false });
    addFormatsModule.default(ajv);
    for (const type of EVENT_TYPES) {
      const schema = JSON.parse(readFileSync(join(CONTRACTS, 'events', schemaFileName(type)), 'utf8')) as Record<string, unknown>;
      expect(ajv.validateSchema(schema), `${type}: ${ajv.errorsText()}`).toBe(true);
      expect(() => ajv.compile(schema)).not.toThrow();
    }
  });
});

describe('AsyncAPI document', () => {
  it('parses with @asyncapi/parser without errors and describes every event type on its topic', async () => {
    const parser = new Parser();
    const { document, diagnostics } = await fromFile(parser, join(CONTRACTS, 'asyncapi.yaml')).parse();
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
    if (!document) return;
    expect(document.version()).toBe('3.0.0');

    const byType = new Map(document.allMessages().all().map((m) => [m.name(), m]));
    expect([...byType.keys()].sort()).toEqual([...CLIENT_EVENT_TYPES, ...REGISTRATION_EVENT_TYPES].sort());
    const topicOfMessage = new Map<string | undefined, string | undefined>();
    for (const channel of document.channels().all()) {
      expect(channel.bindings().get('kafka')?.value()).toMatchObject({ topic: channel.address() });
      for (const m of channel.messages().all()) topicOfMessage.set(m.name(), channel.address() ?? undefined);
    }
    for (const operation of document.operations().all()) expect(operation.action()).toBe('send');
    for (const type of EVENT_TYPES) {
      const message = byType.get(type);
      expect(message, type).toBeDefined();
      if (!message) continue;
      expect(topicOfMessage.get(type)).toBe(topicOf(type));
      // The payload is the `data` schema of the type's JSON Schema file, resolved.
      const fileSchema = EVENT_SCHEMAS[type] as { properties: { data: Record<string, unknown> } };
      const payload = message.payload()?.json() as { schema?: unknown } | undefined;
      expect(payload?.schema ?? payload).toMatchObject(JSON.parse(JSON.stringify(fileSchema.properties.data)) as Record<string, unknown>);
      const kafka = message.bindings().get('kafka')?.value() as { key?: { description?: string } } | undefined;
      expect(kafka?.key?.description).toContain(type.startsWith('dcr.client.') ? 'client_id' : 'registration request id');
      expect(message.headers()?.json()).toBeDefined();
    }
  });

  it('its header schema accepts the headers the producer actually writes (CloudEvents Kafka binary mode)', async () => {
    const { document } = await fromFile(new Parser(), join(CONTRACTS, 'asyncapi.yaml')).parse();
    const message = document?.allMessages().all().find((m) => m.name() === 'dcr.client.created');
    const headersSchema = message?.headers()?.json();
    expect(headersSchema).toBeDefined();
    const ajv = new AjvModule.default({ strict: false });
    addFormatsModule.default(ajv);
    const check = ajv.compile(JSON.parse(JSON.stringify(headersSchema)) as Record<string, unknown>);
    const record = toKafkaRecord(clientCreated({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }));
    expect(check(record.headers), ajv.errorsText(check.errors)).toBe(true);
    expect(record.key).toBe('c1a2b3');
    expect(check({ ...record.headers, ce_type: 'dcr.client.deleted' })).toBe(false);
  });
});

describe('schema rules', () => {
  it('accepts a well-formed client event', () => {
    expect(validateEvent(clientCreated())).toMatchObject({ valid: true });
  });

  it.each(FORBIDDEN_MEMBERS)('refuses an event carrying `%s`, in data or nested anywhere', (member) => {
    const inData = validateEvent(clientCreated({ data: { ...clientCreated().data, [member]: 'secret-value' } }));
    expect(inData.valid).toBe(false);
    if (!inData.valid) {
      expect(inData.errors.join('\n')).toContain('forbidden member');
      expect(inData.errors.join('\n')).not.toContain('secret-value');
    }
    // Nested, e.g. an inline JWKS with a private key, even where extension members would be tolerated.
    const nested = EVENT_SCHEMAS['dcr.client.created'];
    const ajv = new AjvModule.default({ strictTypes: false });
    addFormatsModule.default(ajv);
    const onlySecretsRule = ajv.compile({ definitions: (nested as { definitions: object }).definitions, $ref: '#/definitions/noSecrets' });
    expect(onlySecretsRule({ jwks: { keys: [{ kty: 'RSA', n: 'x', e: 'AQAB', [member]: 'x' }] } })).toBe(false);
    expect(onlySecretsRule({ jwks: { keys: [{ kty: 'RSA', n: 'x', e: 'AQAB' }] } })).toBe(true);
  });

  it('refuses a registration event carrying the registration access token', () => {
    const event = {
      specversion: '1.0',
      id: 'e1',
      type: 'dcr.registration.rejected',
      source: 'urn:dcr:verifier',
      subject: 'r1',
      time: '2026-11-25T12:00:00Z',
      datacontenttype: 'application/json',
      data: { request_id: 'r1', kind: 'create', status: 'rejected', stage: 'verify', error: 'invalid_redirect_uri', error_description: 'x', registration_access_token: 'eyJ...' },
    };
    expect(validateEvent(event).valid).toBe(false);
    const { registration_access_token: _token, ...clean } = event.data;
    expect(validateEvent({ ...event, data: clean }).valid).toBe(true);
  });

  it('refuses undocumented members, a wrong status for the type, a type on the wrong topic, unknown types', () => {
    expect(validateEvent(clientCreated({ data: { ...clientCreated().data, tenant: 'x' } })).valid).toBe(false);
    expect(validateEvent(clientCreated({ data: { ...clientCreated().data, status: 'deleted' } })).valid).toBe(false);
    expect(validateEvent(clientCreated({ type: 'dcr.client.deleted', data: { ...clientCreated().data, status: 'deleted' } })).valid).toBe(true);
    expect(validateEvent(clientCreated({ topic: TOPICS.registration })).valid).toBe(false);
    expect(validateEvent(clientCreated({ type: 'dcr.client.renamed' })).valid).toBe(false);
    expect(validateEvent(clientCreated({ data: { ...clientCreated().data, redirect_uris: ['http://tpp.example/cb'] } })).valid).toBe(false);
    const { software_id: _s, ...withoutSoftware } = clientCreated().data;
    expect(validateEvent(clientCreated({ data: withoutSoftware })).valid).toBe(false);
  });
});
