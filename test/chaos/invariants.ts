/**
 * The invariants of a chaos run, read from the real stores after the settle phase:
 *   (a) lost: every submission the intake acknowledged (201 or 202) has a registration in MongoDB in a
 *       final state (`registered` / `rejected`); `failed` after the last replay counts as lost too;
 *   (b) duplicate clients: no request with two client documents, no client whose request names
 *       another client id, no registered request without its client;
 *   (c) events: the client topic read from the beginning with a fresh consumer group; every client
 *       has exactly one `dcr.client.created` event id (several deliveries of it are allowed and counted),
 *       no created event names an unknown client; deliveries before de-duplication are reported;
 *   (d) no stuck jobs: BullMQ waiting / active / delayed / prioritized = 0 for every stage queue, and no
 *       outbox entry left in any document;
 *   (e) every registration of the load (all valid) ended `registered`: a `rejected` one, an unexpected
 *       HTTP answer or one the client gave up on is a finding;
 *   (f) no job processed by two instances to completion: in each registration's history (between two
 *       replays), every stage has at most one completing transition (from its running status on). The
 *       stage entries name their worker (`service@host:pid`), so a job one instance started and another
 *       finished (a takeover after a kill or a pause) is counted too: the stale instance's commit was
 *       refused by the store's version check, else (f) would count two completions.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Kafka, logLevel } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { STAGES, STAGE_STATUS, type Stage } from '../../core/domain/registration.js';
import type { RequestRecord } from './load.js';

export interface QueueState {
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  waitingChildren: number;
  /** jobs BullMQ gave up on (a handler threw on its last attempt) */
  failed: number;
  completed: number;
}

/** Job counts of every stage queue, straight from Redis (BullMQ, prefix `dcr:<namespace>`). */
export async function queueCounts(redisUrl: string, namespace: string, stages: string[]): Promise<Record<string, QueueState>> {
  const u = new URL(redisUrl);
  const out: Record<string, QueueState> = {};
  for (const stage of stages) {
    const queue = new Queue(stage, {
      connection: { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000 },
      prefix: namespace ? `dcr:${namespace}` : 'dcr',
    });
    queue.on('error', () => {});
    try {
      await queue.waitUntilReady();
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed');
      out[stage] = {
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        prioritized: c.prioritized ?? 0,
        waitingChildren: c['waiting-children'] ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
      };
    } finally {
      await queue.close().catch(() => {});
    }
  }
  return out;
}

export interface TopicRead {
  topic: string;
  /** messages read (every delivery, before de-duplication) */
  messages: number;
  byType: Record<string, { deliveries: number; distinctIds: number }>;
  /** per type: event id → { key, deliveries } */
  events: Map<string, { type: string; key: string; clientId: string | undefined; deliveries: number }>;
  /** high watermarks reached (false: the read timed out) */
  complete: boolean;
}

/** Reads `topic` from the beginning to its current end with a fresh consumer group. */
export async function readTopic(brokers: string, topic: string, timeoutMs: number): Promise<TopicRead> {
  const kafka = new Kafka({ clientId: 'dcr-chaos-check', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const read: TopicRead = { topic, messages: 0, byType: {}, events: new Map(), complete: ends.size === 0 };
  if (ends.size === 0) return read;
  const consumer = kafka.consumer({ groupId: `chaos-check-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  const reached = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => resolve(), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            read.messages++;
            const header = (name: string) => {
              const v = message.headers?.[name];
              return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
            };
            const id = header('ce_id') ?? `missing-id@${partition}:${message.offset}`;
            const type = header('ce_type') ?? 'unknown';
            const key = message.key?.toString('utf8') ?? '';
            let clientId: string | undefined;
            try {
              const data = JSON.parse(message.value?.toString('utf8') ?? '{}') as { client_id?: unknown };
              if (typeof data.client_id === 'string') clientId = data.client_id;
            } catch {
              /* not JSON: counted without a client id */
            }
            const seen = read.events.get(id);
            if (seen) seen.deliveries++;
            else read.events.set(id, { type, key, clientId, deliveries: 1 });
            const t = (read.byType[type] ??= { deliveries: 0, distinctIds: 0 });
            t.deliveries++;
            if (!seen) t.distinctIds++;
            const end = ends.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) reached.add(partition);
            if (reached.size === ends.size) {
              read.complete = true;
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
  return read;
}

export interface Invariant {
  name: string;
  ok: boolean;
  value: number;
  detail?: unknown;
}

export interface InvariantReport {
  ok: boolean;
  invariants: Invariant[];
  counters: Record<string, unknown>;
}

interface RegistrationDoc {
  _id: string;
  status: string;
  clientId?: string | null;
  submissionKey: string;
  generation: number;
  submittedAt: string;
  lastError?: string | null;
  failedStage?: string | null;
  history?: HistoryDoc[];
  outbox?: unknown[];
}
interface HistoryDoc {
  at: string;
  event: string;
  stage?: string;
  from?: string;
  to?: string;
  error?: string;
  worker?: string;
}
interface ClientDoc {
  _id: string;
  requestId: string;
  outbox?: unknown[];
}

const sample = <T>(list: T[], n = 10): T[] => list.slice(0, n);

/**
 * Submission → `registered` (the last transition to it) in seconds, by `bucketSeconds` of submission
 * time: where the faults slowed the pipeline down, and how long replays took.
 */
function latencyTimeline(registrations: RegistrationDoc[], bucketSeconds: number) {
  const start = Math.min(...registrations.map((r) => Date.parse(r.submittedAt)));
  const buckets = new Map<number, number[]>();
  for (const r of registrations) {
    const done = (r.history ?? []).filter((h) => h.event === 'transition' && h.to === 'registered').at(-1);
    if (!done) continue;
    const bucket = Math.floor((Date.parse(r.submittedAt) - start) / 1000 / bucketSeconds);
    const list = buckets.get(bucket) ?? [];
    list.push((Date.parse(done.at) - Date.parse(r.submittedAt)) / 1000);
    buckets.set(bucket, list);
  }
  const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return [...buckets]
    .sort(([a], [b]) => a - b)
    .map(([bucket, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return { fromSecond: bucket * bucketSeconds, registered: sorted.length, p50Seconds: r1(pct(sorted, 50)), p95Seconds: r1(pct(sorted, 95)), maxSeconds: r1(sorted.at(-1) ?? 0) };
    });
}

const RUNNING = new Map<string, Stage>(STAGES.map((stage) => [STAGE_STATUS[stage].running, stage]));

export interface StageRunAudit {
  /** (registration, stage, generation) runs with more than one completing transition */
  completedTwice: { requestId: string; stage: string; workers: (string | undefined)[] }[];
  /** runs started by one instance and completed by another (the job was taken over) */
  takeovers: { requestId: string; stage: string; startedBy: string; completedBy: string; startedAt: string; completedAt: string }[];
  /** runs whose completion names a worker */
  withWorker: number;
  runs: number;
  /** stage runs completed, by worker instance */
  byWorker: Record<string, number>;
  /** `reconciled` history entries (the reconciler queued a stranded request again) */
  reconciled: number;
}

/** (f): every stage run (between replays) in each history, with who started and who completed it. */
export function auditStageRuns(registrations: { _id: string; history?: HistoryDoc[] }[]): StageRunAudit {
  const audit: StageRunAudit = { completedTwice: [], takeovers: [], withWorker: 0, runs: 0, byWorker: {}, reconciled: 0 };
  for (const r of registrations) {
    let started = new Map<string, HistoryDoc>();
    let completions = new Map<string, HistoryDoc[]>();
    const close = () => {
      for (const [stage, done] of completions) {
        audit.runs++;
        if (done.length > 1) audit.completedTwice.push({ requestId: r._id, stage, workers: done.map((d) => d.worker) });
        const first = done[0] as HistoryDoc;
        if (first.worker) {
          audit.withWorker++;
          audit.byWorker[first.worker] = (audit.byWorker[first.worker] ?? 0) + 1;
        }
        const start = started.get(stage);
        if (start?.worker && first.worker && start.worker !== first.worker)
          audit.takeovers.push({ requestId: r._id, stage, startedBy: start.worker, completedBy: first.worker, startedAt: start.at, completedAt: first.at });
      }
      started = new Map();
      completions = new Map();
    };
    for (const h of r.history ?? []) {
      if (h.event === 'replayed') close();
      if (h.event === 'reconciled') audit.reconciled++;
      if (h.event !== 'transition' || !h.stage) continue;
      if (RUNNING.get(h.to ?? '') === h.stage) {
        if (!started.has(h.stage)) started.set(h.stage, h);
      } else if (h.from !== undefined && RUNNING.get(h.from) === h.stage) {
        completions.set(h.stage, [...(completions.get(h.stage) ?? []), h]);
      }
    }
    close();
  }
  return audit;
}

/** A fault's window, for the latency of the registrations in flight at it. */
export interface FaultWindow {
  fault: string;
  startedAtMs: number;
}

/**
 * Submit → final (`registered`/`rejected`, the last such transition) of the registrations submitted
 * before a fault began and not yet final then: p50 / p99 / max in seconds (a figure, not asserted).
 */
export function latencyOfInFlight(registrations: RegistrationDoc[], windows: FaultWindow[]) {
  const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  const finals = registrations.map((r) => {
    const done = (r.history ?? []).filter((h) => h.event === 'transition' && (h.to === 'registered' || h.to === 'rejected')).at(-1);
    return { submitted: Date.parse(r.submittedAt), final: done ? Date.parse(done.at) : Number.NaN };
  });
  return windows.map((w) => {
    const list = finals
      .filter((f) => f.submitted <= w.startedAtMs && !(f.final <= w.startedAtMs))
      .map((f) => (Number.isNaN(f.final) ? Number.POSITIVE_INFINITY : (f.final - f.submitted) / 1000))
      .sort((a, b) => a - b);
    const notFinal = list.filter((x) => !Number.isFinite(x)).length;
    return { fault: w.fault, inFlight: list.length, notFinal, p50Seconds: list.length ? r1(pct(list, 50)) : null, p99Seconds: list.length ? r1(pct(list, 99)) : null, maxSeconds: list.length ? r1(list.at(-1) as number) : null };
  });
}

export async function checkInvariants(input: {
  mongo: MongoClient;
  namespace: string;
  redisUrl: string;
  kafkaBrokers: string;
  records: RequestRecord[];
  kafkaReadTimeoutMs: number;
  faultWindows?: FaultWindow[];
}): Promise<InvariantReport> {
  const { mongo, namespace, records } = input;
  const db = mongo.db();
  const registrations = await db
    .collection<RegistrationDoc>(`${namespace}_registrations`)
    .find({}, { projection: { _id: 1, status: 1, clientId: 1, submissionKey: 1, generation: 1, submittedAt: 1, lastError: 1, failedStage: 1, history: 1, outbox: 1 } })
    .toArray();
  const clients = await db.collection<ClientDoc>(`${namespace}_clients`).find({}, { projection: { _id: 1, requestId: 1, outbox: 1 } }).toArray();
  const byKey = new Map(registrations.map((r) => [r.submissionKey, r]));
  const byId = new Map(registrations.map((r) => [r._id, r]));

  // (a) lost, and (e) every registration of the load registered
  const acknowledged = records.filter((r) => r.answer === 'registered' || r.answer === 'accepted');
  const lost: { index: number; answer: string; requestId?: string; status: string; lastError?: string | null; failedStage?: string | null; lastHistory?: unknown }[] = [];
  const answerMismatch: { index: number; answered: string; stored: string | null | undefined }[] = [];
  for (const r of acknowledged) {
    const doc = byKey.get(r.submissionKey);
    if (!doc || (doc.status !== 'registered' && doc.status !== 'rejected')) {
      lost.push({
        index: r.index,
        answer: r.answer,
        ...(r.requestId ? { requestId: r.requestId } : {}),
        status: doc?.status ?? 'missing',
        lastError: doc?.lastError ?? null,
        failedStage: doc?.failedStage ?? null,
        lastHistory: doc?.history?.slice(-3),
      });
      continue;
    }
    if (r.requestId && r.requestId !== doc._id) answerMismatch.push({ index: r.index, answered: `request ${r.requestId}`, stored: doc._id });
    if (r.clientId && r.clientId !== doc.clientId) answerMismatch.push({ index: r.index, answered: `client ${r.clientId}`, stored: doc.clientId });
  }
  const statuses: Record<string, number> = {};
  for (const r of registrations) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const notRegistered = records
    .map((r) => ({ r, doc: byKey.get(r.submissionKey) }))
    .filter(({ doc }) => doc?.status !== 'registered')
    .map(({ r, doc }) => ({ index: r.index, answer: r.answer, httpStatus: r.httpStatus, detail: r.detail, status: doc?.status ?? 'missing', lastError: doc?.lastError ?? null }));
  const loadKeys = new Set(records.map((r) => r.submissionKey));
  const foreign = registrations.filter((r) => !loadKeys.has(r.submissionKey)).length;

  // (b) duplicate clients
  const clientsByRequest = new Map<string, string[]>();
  for (const c of clients) clientsByRequest.set(c.requestId, [...(clientsByRequest.get(c.requestId) ?? []), c._id]);
  const requestsWithSeveralClients = [...clientsByRequest].filter(([, ids]) => ids.length > 1).map(([requestId, ids]) => ({ requestId, clientIds: ids }));
  const clientRequestMismatch = clients
    .filter((c) => byId.get(c.requestId)?.clientId !== c._id)
    .map((c) => ({ clientId: c._id, requestId: c.requestId, requestClientId: byId.get(c.requestId)?.clientId ?? null }));
  const clientIds = new Set(clients.map((c) => c._id));
  const registeredWithoutClient = registrations.filter((r) => r.status === 'registered' && !(r.clientId && clientIds.has(r.clientId))).map((r) => r._id);
  const duplicateClients = requestsWithSeveralClients.length + clientRequestMismatch.length;

  // (c) events
  const clientTopic = await readTopic(input.kafkaBrokers, `${namespace}.dcr.client.v1`, input.kafkaReadTimeoutMs);
  const registrationTopic = await readTopic(input.kafkaBrokers, `${namespace}.dcr.registration.v1`, input.kafkaReadTimeoutMs);
  const createdIdsByClient = new Map<string, string[]>();
  let createdDeliveries = 0;
  for (const [id, e] of clientTopic.events) {
    if (e.type !== 'dcr.client.created') continue;
    createdDeliveries += e.deliveries;
    const clientId = e.clientId ?? e.key;
    createdIdsByClient.set(clientId, [...(createdIdsByClient.get(clientId) ?? []), id]);
  }
  const clientsWithoutCreated = clients.filter((c) => !createdIdsByClient.has(c._id)).map((c) => c._id);
  const clientsWithSeveralCreatedIds = [...createdIdsByClient].filter(([, ids]) => ids.length > 1).map(([clientId, ids]) => ({ clientId, ids }));
  const createdForUnknownClients = [...createdIdsByClient.keys()].filter((id) => !clientIds.has(id));
  const keyMismatch = [...clientTopic.events.values()].filter((e) => e.clientId !== undefined && e.clientId !== e.key).length;
  const createdDistinctIds = [...createdIdsByClient.values()].reduce((a, ids) => a + ids.length, 0);

  // (d) stuck jobs
  const queues = await queueCounts(input.redisUrl, namespace, [...STAGES]);
  const stuckJobs = Object.values(queues).reduce((a, q) => a + q.waiting + q.active + q.delayed + q.prioritized + q.waitingChildren, 0);
  const outboxLeft = registrations.reduce((a, r) => a + (r.outbox?.length ?? 0), 0) + clients.reduce((a, c) => a + (c.outbox?.length ?? 0), 0);
  const bullFailed = Object.values(queues).reduce((a, q) => a + q.failed, 0);

  const replays = registrations.reduce((a, r) => a + (r.history ?? []).filter((h) => h.event === 'replayed').length, 0);
  const attemptFailures = registrations.reduce((a, r) => a + (r.history ?? []).filter((h) => h.event === 'attempt_failed').length, 0);
  const failedTransitions = registrations.reduce((a, r) => a + (r.history ?? []).filter((h) => h.event === 'transition' && h.to === 'failed').length, 0);
  const replayedRegistrations = registrations.filter((r) => r.generation > 0).length;

  const latency = latencyTimeline(registrations, 30);
  const audit = auditStageRuns(registrations);
  const takeoversByStage: Record<string, number> = {};
  for (const t of audit.takeovers) takeoversByStage[t.stage] = (takeoversByStage[t.stage] ?? 0) + 1;

  const invariants: Invariant[] = [
    { name: 'lost (acknowledged, not final after settle)', ok: lost.length === 0, value: lost.length, ...(lost.length ? { detail: sample(lost) } : {}) },
    {
      name: 'duplicate clients (requests with >1 client, or a client its request does not name)',
      ok: duplicateClients === 0,
      value: duplicateClients,
      ...(duplicateClients ? { detail: { requestsWithSeveralClients: sample(requestsWithSeveralClients), clientRequestMismatch: sample(clientRequestMismatch) } } : {}),
    },
    { name: 'registered requests without their client', ok: registeredWithoutClient.length === 0, value: registeredWithoutClient.length, ...(registeredWithoutClient.length ? { detail: sample(registeredWithoutClient) } : {}) },
    { name: 'answers that disagree with the store (request id / client id)', ok: answerMismatch.length === 0, value: answerMismatch.length, ...(answerMismatch.length ? { detail: sample(answerMismatch) } : {}) },
    {
      name: 'clients without exactly one dcr.client.created id',
      ok: clientsWithoutCreated.length === 0 && clientsWithSeveralCreatedIds.length === 0,
      value: clientsWithoutCreated.length + clientsWithSeveralCreatedIds.length,
      ...(clientsWithoutCreated.length || clientsWithSeveralCreatedIds.length ? { detail: { clientsWithoutCreated: sample(clientsWithoutCreated), clientsWithSeveralCreatedIds: sample(clientsWithSeveralCreatedIds) } } : {}),
    },
    { name: 'dcr.client.created for unknown clients', ok: createdForUnknownClients.length === 0, value: createdForUnknownClients.length, ...(createdForUnknownClients.length ? { detail: sample(createdForUnknownClients) } : {}) },
    { name: 'topics read to their end', ok: clientTopic.complete && registrationTopic.complete, value: Number(!clientTopic.complete) + Number(!registrationTopic.complete) },
    { name: 'stuck jobs (BullMQ waiting/active/delayed/prioritized/waiting-children)', ok: stuckJobs === 0, value: stuckJobs, detail: queues },
    { name: 'outbox entries left', ok: outboxLeft === 0, value: outboxLeft },
    { name: 'registrations of the load not registered', ok: notRegistered.length === 0, value: notRegistered.length, ...(notRegistered.length ? { detail: sample(notRegistered) } : {}) },
    {
      name: 'jobs processed by two instances to completion',
      ok: audit.completedTwice.length === 0,
      value: audit.completedTwice.length,
      ...(audit.completedTwice.length ? { detail: sample(audit.completedTwice) } : {}),
    },
  ];

  return {
    ok: invariants.every((i) => i.ok),
    invariants,
    counters: {
      registrations: registrations.length,
      registrationsNotFromTheLoad: foreign,
      byStatus: statuses,
      acknowledged: acknowledged.length,
      clients: clients.length,
      replayedRegistrations,
      replays,
      attemptFailures,
      failedTransitions,
      bullmqFailedJobs: bullFailed,
      latencyBySubmissionTime: latency,
      latencyOfInFlightAtFault: latencyOfInFlight(registrations, input.faultWindows ?? []),
      stageRuns: {
        runs: audit.runs,
        withWorker: audit.withWorker,
        byWorker: audit.byWorker,
        takenOver: audit.takeovers.length,
        takenOverByStage: takeoversByStage,
        takeoverSamples: sample(audit.takeovers, 5),
        reconciled: audit.reconciled,
      },
      events: {
        clientTopic: {
          messagesBeforeDedup: clientTopic.messages,
          distinctEventIds: clientTopic.events.size,
          byType: clientTopic.byType,
          createdDeliveriesBeforeDedup: createdDeliveries,
          createdDistinctIds,
          createdDistinctClientIds: createdIdsByClient.size,
          createdRedeliveries: createdDeliveries - createdDistinctIds,
          keyDisagreesWithData: keyMismatch,
        },
        registrationTopic: {
          messagesBeforeDedup: registrationTopic.messages,
          distinctEventIds: registrationTopic.events.size,
          byType: registrationTopic.byType,
        },
      },
    },
  };
}
