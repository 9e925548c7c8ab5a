import AjvModule, { type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { CLIENT_EVENT_TYPES, type ClientEventType, type RegistrationEventType } from '../domain/events.js';
import type { DeliveredEvent } from '../ports/events.js';
import { EVENT_SCHEMAS, EVENT_TYPES, topicOf, type ClientEventData, type EventType, type RegistrationEventData } from './schemas.js';

/** An event that passed its type's v1 schema, with `data` typed. */
type Envelope = Omit<DeliveredEvent, 'type' | 'data' | 'topic'> & { topic?: DeliveredEvent['topic'] };
export type ClientEvent = Envelope & { type: ClientEventType; data: ClientEventData };
export type RegistrationEvent = Envelope & { type: RegistrationEventType; data: RegistrationEventData };
export type ValidEvent = ClientEvent | RegistrationEvent;

export type EventValidation = { valid: true; event: ValidEvent } | { valid: false; errors: string[] };

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, strictTypes: false });
addFormats(ajv);
const compiled = new Map<EventType, ValidateFunction>();

function validatorFor(type: EventType): ValidateFunction {
  let fn = compiled.get(type);
  if (!fn) {
    fn = ajv.compile(EVENT_SCHEMAS[type]);
    compiled.set(type, fn);
  }
  return fn;
}

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && (EVENT_TYPES as readonly string[]).includes(type);
}

export function isClientEvent(event: ValidEvent): event is ClientEvent {
  return (CLIENT_EVENT_TYPES as readonly string[]).includes(event.type);
}

/**
 * Checks an event against the v1 contract of its type. Accepts a {@link DeliveredEvent} (its
 * `topic`, which is transport and not a CloudEvents attribute, must be the type's topic) or a
 * CloudEvent in structured JSON form. Error messages name the path, never the offending value.
 */
export function validateEvent(input: unknown): EventValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { valid: false, errors: ['event: must be an object'] };
  const { topic, ...cloudEvent } = input as Record<string, unknown>;
  const type = cloudEvent.type;
  if (!isEventType(type)) return { valid: false, errors: [`/type: unknown event type ${JSON.stringify(type)}`] };
  const errors: string[] = [];
  if (topic !== undefined && topic !== topicOf(type)) errors.push(`topic: ${type} belongs on ${topicOf(type)}`);
  const check = validatorFor(type);
  if (!check(cloudEvent)) {
    for (const e of check.errors ?? []) errors.push(`${e.instancePath || '/'}: ${e.message ?? 'invalid'}${e.keyword === 'propertyNames' ? ' (forbidden member)' : ''}`);
  }
  return errors.length === 0 ? { valid: true, event: input as ValidEvent } : { valid: false, errors };
}
