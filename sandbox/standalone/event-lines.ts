import type { DeliveredEvent } from '../../core/ports/events.js';

/**
 * The one log line `npm start` writes per published event: `event TYPE SUBJECT (id ID)`, and for
 * a registration's outcome what it was (registered as a client, rejected with its RFC 7591 code,
 * failed in a stage and replayable). Fields carry the ids for JSON logs; no secrets are in events.
 */
export function eventLine(event: DeliveredEvent): { fields: Record<string, unknown>; msg: string } {
  const d = event.data;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const fields: Record<string, unknown> = { eventId: event.id, type: event.type, subject: event.subject };
  for (const key of ['request_id', 'client_id', 'software_id', 'org_id', 'stage', 'status', 'error'] as const) {
    if (d[key] !== undefined) fields[key] = d[key];
  }
  const head = `event ${event.type} ${event.subject} (id ${event.id})`;
  switch (event.type) {
    case 'dcr.client.created':
      return { fields, msg: `${head}: registered, software ${str(d.software_id) ?? '?'} of org ${str(d.org_id) ?? '?'}` };
    case 'dcr.client.deleted':
      return { fields, msg: `${head}: client deleted` };
    case 'dcr.registration.rejected':
      return { fields, msg: `${head}: rejected in ${str(d.stage) ?? '?'}: ${str(d.error) ?? '?'}: ${str(d.error_description) ?? ''}` };
    case 'dcr.registration.failed':
      return { fields, msg: `${head}: failed in ${str(d.stage) ?? '?'} (replay: dcr-pipeline ops replay ${event.subject})` };
    default:
      return { fields, msg: head };
  }
}
