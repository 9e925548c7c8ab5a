/**
 * The fault schedule: one fault at a time, each triggered once a given share of the load has been
 * started, run to recovery before the next one, and recorded on a timeline:
 *   - `kill`: SIGKILL of a service process (intake, verifier, revocation, provisioner), down for
 *     `serviceDowntimeMs`, then started again (a process manager's restart);
 *   - `restart`: SIGKILL of a server (Redis, Kafka, MongoDB), down for `serverDowntimeMs[server]`, then started
 *     on the same port with the same (durable) data;
 *   - `outage`: the sandbox directory answers 503 to everything for `directoryOutageMs`.
 * Recovery is measured from the moment the component is back: until the stage it serves moves a
 * registration again (`resumedMs`), until a registration reaches `registered` (`firstRegisteredMs`), and
 * for Kafka until every event written before it came back has left the outbox (`backlogDrainedMs`).
 */
import { Queue } from 'bullmq';
import type { MongoClient } from 'mongodb';
import { REGISTRATION_STATUSES, SETTLED_STATUSES, type Stage } from '../../core/domain/registration.js';
import type { ChaosCluster, ServiceName } from './cluster.js';
import type { LoadProgress } from './load.js';

export type FaultSpec =
  | { kind: 'kill'; target: Extract<ServiceName, 'intake' | 'verifier' | 'revocation' | 'provisioner'> }
  | { kind: 'restart'; target: 'redis' | 'kafka' | 'mongo' }
  | { kind: 'outage'; target: 'directory' };

export const ALL_FAULTS: FaultSpec[] = [
  { kind: 'kill', target: 'verifier' },
  { kind: 'restart', target: 'redis' },
  { kind: 'kill', target: 'intake' },
  { kind: 'outage', target: 'directory' },
  { kind: 'kill', target: 'revocation' },
  { kind: 'restart', target: 'mongo' },
  { kind: 'kill', target: 'provisioner' },
  { kind: 'restart', target: 'kafka' },
];

export interface FaultTimings {
  /** a killed service stays down this long before it is started again */
  serviceDowntimeMs: number;
  /** a killed server stays down this long before it is started again */
  serverDowntimeMs: { redis: number; kafka: number; mongo: number };
  directoryOutageMs: number;
  /** how long to wait for a sign of recovery before moving on (recorded as null) */
  recoveryTimeoutMs: number;
  /** how long a kill may wait for a job in progress (worker) or a client in flight (intake) */
  aimMs: number;
  /** the first fault when this share of the load has started, the last at `lastAt` */
  firstAt: number;
  lastAt: number;
}

export interface FaultRecord {
  fault: string;
  kind: FaultSpec['kind'];
  target: string;
  /** seconds since the load started */
  atSeconds: number;
  startedAt: string;
  /** registrations started by the load when the fault began, and whether the load was still running */
  loadStarted: number;
  underLoad: boolean;
  /** registrations the clients were waiting on when the fault began */
  clientsInFlight: number;
  /** registrations in a stage (not settled) when the fault began */
  pipelineInFlight: number | null;
  /** a worker kill waits (≤ `aimMs`) until its stage has a job running, so that the kill lands mid-job */
  activeJobsAtKill?: number;
  /** fault injected → component back (for a kill/restart: includes the deliberate downtime and the start) */
  outageMs: number;
  /** the (re)start alone: spawn → ready */
  startMs?: number;
  /** component back → the stage it serves moved a registration (null: not seen within the timeout) */
  resumedMs: number | null;
  /** component back → a registration reached `registered` */
  firstRegisteredMs: number | null;
  /** Kafka: component back → no event written before that left in the outbox */
  backlogDrainedMs?: number | null;
  /** when nothing was left to process, recovery cannot be observed */
  note?: string;
  error?: string;
}

export function faultName(f: FaultSpec): string {
  if (f.kind === 'kill') return `kill -9 ${f.target}`;
  if (f.kind === 'restart') return `kill -9 + restart ${f.target}`;
  return 'directory outage';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAGE_OF: Record<'verifier' | 'revocation' | 'provisioner', Stage> = { verifier: 'verify', revocation: 'revocation', provisioner: 'provision' };
const IN_FLIGHT = REGISTRATION_STATUSES.filter((s) => !SETTLED_STATUSES.includes(s));

/** What proves that the component serves again, as a MongoDB filter on registrations. */
function resumedFilter(f: FaultSpec, back: string): Record<string, unknown> {
  if (f.kind === 'kill') {
    switch (f.target) {
      case 'intake':
        return { submittedAt: { $gt: back } };
      case 'verifier':
        return { history: { $elemMatch: { stage: 'verify', event: 'transition', to: 'checking_revocation', at: { $gt: back } } } };
      case 'revocation':
        return { history: { $elemMatch: { stage: 'revocation', event: 'transition', to: 'provisioning', at: { $gt: back } } } };
      case 'provisioner':
        return { history: { $elemMatch: { stage: 'provision', event: 'transition', to: 'registered', at: { $gt: back } } } };
    }
  }
  return { status: 'registered', updatedAt: { $gt: back } };
}

export class FaultRunner {
  readonly timeline: FaultRecord[] = [];
  #t0 = 0;
  readonly #queues = new Map<Stage, Queue>();

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly mongo: MongoClient,
    private readonly timings: FaultTimings,
    private readonly log: (line: string) => void,
  ) {}

  #registrations() {
    return this.mongo.db().collection(`${this.cluster.namespace}_registrations`);
  }

  #queue(stage: Stage): Queue {
    let queue = this.#queues.get(stage);
    if (!queue) {
      const u = new URL(this.cluster.env.DCR_REDIS_URL as string);
      queue = new Queue(stage, { connection: { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: 1 }, prefix: `dcr:${this.cluster.namespace}` });
      queue.on('error', () => {});
      this.#queues.set(stage, queue);
    }
    return queue;
  }

  /** Waits (polling, at most `aimMs`) until `probe` says the moment is right; returns its last value. */
  async #aim(probe: () => Promise<number>): Promise<number> {
    const deadline = Date.now() + this.timings.aimMs;
    for (;;) {
      const value = await probe().catch(() => 0);
      if (value > 0 || Date.now() > deadline) return value;
      await sleep(20);
    }
  }

  /** Polls `probe` every 250 ms from `from` (ms epoch); null once the timeout passed or nothing is left to process. */
  async #measure(from: number, probe: () => Promise<boolean>, progress: LoadProgress): Promise<{ ms: number | null; idle: boolean }> {
    const deadline = from + this.timings.recoveryTimeoutMs;
    for (;;) {
      try {
        if (await probe()) return { ms: Date.now() - from, idle: false };
        if (progress.done && progress.inFlight === 0) {
          const left = await this.#registrations().countDocuments({ status: { $in: IN_FLIGHT } });
          if (left === 0) return { ms: null, idle: true };
        }
      } catch {
        // the store may still be coming back (the fault was MongoDB): keep polling
      }
      if (Date.now() > deadline) return { ms: null, idle: false };
      await sleep(250);
    }
  }

  async #one(f: FaultSpec, progress: LoadProgress): Promise<FaultRecord> {
    let activeJobsAtKill: number | undefined;
    if (f.kind === 'kill') {
      const target = f.target;
      activeJobsAtKill =
        target === 'intake'
          ? await this.#aim(async () => progress.inFlight)
          : await this.#aim(async () => (await this.#queue(STAGE_OF[target]).getJobCounts('active')).active ?? 0);
    }
    const pipelineInFlight = await this.#registrations()
      .countDocuments({ status: { $in: IN_FLIGHT } })
      .catch(() => null);
    const startedAtMs = Date.now();
    const record: FaultRecord = {
      fault: faultName(f),
      kind: f.kind,
      target: f.target,
      atSeconds: Math.round((startedAtMs - this.#t0) / 100) / 10,
      startedAt: new Date(startedAtMs).toISOString(),
      loadStarted: progress.started,
      underLoad: !progress.done,
      clientsInFlight: progress.inFlight,
      pipelineInFlight,
      ...(activeJobsAtKill !== undefined ? { activeJobsAtKill } : {}),
      outageMs: 0,
      resumedMs: null,
      firstRegisteredMs: null,
    };
    this.log(
      `fault: ${record.fault} (load ${progress.started} started, ${progress.inFlight} clients waiting, ${pipelineInFlight ?? '?'} registrations in a stage${activeJobsAtKill !== undefined ? `, ${activeJobsAtKill} ${f.target === 'intake' ? 'requests open' : 'jobs running'}` : ''})`,
    );
    try {
      if (f.kind === 'kill') {
        await this.cluster.kill(f.target, 'SIGKILL');
        await sleep(this.timings.serviceDowntimeMs); // the deliberate downtime of the fault
        record.startMs = await this.cluster.start(f.target);
      } else if (f.kind === 'restart') {
        const server = this.cluster.infra.server(f.target);
        await server.stop('SIGKILL');
        await sleep(this.timings.serverDowntimeMs[f.target]);
        await server.start();
        record.startMs = server.lastStartMs;
      } else {
        await this.cluster.directory.setOutage(true);
        await sleep(this.timings.directoryOutageMs);
        await this.cluster.directory.setOutage(false);
      }
    } catch (error) {
      record.error = error instanceof Error ? error.message.slice(0, 500) : String(error);
    }
    const backMs = Date.now();
    const back = new Date(backMs).toISOString();
    record.outageMs = backMs - startedAtMs;
    const resumed = await this.#measure(backMs, async () => (await this.#registrations().findOne(resumedFilter(f, back), { projection: { _id: 1 } })) !== null, progress);
    record.resumedMs = resumed.ms;
    const registered = await this.#measure(
      backMs,
      async () => (await this.#registrations().findOne({ status: 'registered', updatedAt: { $gt: back } }, { projection: { _id: 1 } })) !== null,
      progress,
    );
    record.firstRegisteredMs = registered.ms;
    if (f.kind === 'restart' && f.target === 'kafka') {
      const stale = { outbox: { $elemMatch: { kind: 'event', time: { $lt: back } } } };
      const db = this.mongo.db();
      const drained = await this.#measure(
        backMs,
        async () =>
          (await db.collection(`${this.cluster.namespace}_registrations`).countDocuments(stale)) === 0 &&
          (await db.collection(`${this.cluster.namespace}_clients`).countDocuments(stale)) === 0,
        progress,
      );
      record.backlogDrainedMs = drained.ms;
    }
    if (resumed.idle || registered.idle) record.note = 'nothing left in flight to observe recovery with';
    this.log(
      `fault: ${record.fault} done: back after ${record.outageMs} ms${record.startMs !== undefined ? ` (start ${record.startMs} ms)` : ''}, stage resumed +${record.resumedMs ?? '?'} ms, registered +${record.firstRegisteredMs ?? '?'} ms${record.backlogDrainedMs !== undefined ? `, outbox backlog drained +${record.backlogDrainedMs ?? '?'} ms` : ''}${record.error ? `, ERROR ${record.error}` : ''}`,
    );
    return record;
  }

  /**
   * Runs `faults` in order: fault i once `firstAt + i/(n-1) · (lastAt − firstAt)` of `total` registrations
   * have been started (or at once when the load is over). Resolves when the last one recovered.
   */
  async run(faults: FaultSpec[], progress: LoadProgress, total: number, loadStartedAtMs: number): Promise<FaultRecord[]> {
    this.#t0 = loadStartedAtMs;
    const { firstAt, lastAt } = this.timings;
    try {
      for (let i = 0; i < faults.length; i++) {
        const share = faults.length === 1 ? firstAt : firstAt + (i / (faults.length - 1)) * (lastAt - firstAt);
        const trigger = Math.ceil(share * total);
        while (progress.started < trigger && !progress.done) await sleep(100);
        this.timeline.push(await this.#one(faults[i] as FaultSpec, progress));
      }
    } finally {
      await Promise.all([...this.#queues.values()].map((q) => q.close().catch(() => {})));
    }
    return this.timeline;
  }
}
