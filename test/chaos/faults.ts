/**
 * The fault schedule: one fault at a time, each triggered once a given share of the load has been
 * started, run to recovery before the next one, and recorded on a timeline:
 *   - `kill`: SIGKILL of one instance of a service (`<service>-1`: the others carry on), down for
 *     `serviceDowntimeMs`, then started again (a process manager's restart);
 *   - `restart`: SIGKILL of a server (Redis, Kafka, MongoDB), down for `serverDowntimeMs[server]`, then started
 *     on the same port with the same (durable) data;
 *   - `outage`: the sandbox directory answers 503 to everything for `directoryOutageMs`;
 *   - `pause`: SIGSTOP … SIGCONT of one service instance or of a server for `pauseMs` (longer than the
 *     BullMQ lease and the clients' timeouts): a worker paused mid-job loses it to another instance; when
 *     it wakes, the store's version check refuses its stale commit (invariants.ts counts the takeovers
 *     and that no stage run completed twice);
 *   - `partition`: the TCP proxy between the services and a dependency blackholes (accepts, holds, no
 *     byte either way) or resets every connection for `partitionMs`, then passes again; the MongoDB
 *     blackhole starts while writes are in flight and heals with them held (`heldBytesAtHeal`);
 *   - `slow`: the proxy adds `latencyMs` + up to `jitterMs` per chunk on a dependency link for `slowMs`;
 *     the directory's link gets `directoryLatencyMs`, beyond the fetch timeout;
 *   - `flush`: FLUSHDB on the queue's Redis (data loss without AOF): the BullMQ jobs are gone, and the
 *     reconciler must queue the stranded registrations again (`reconciled` in their history).
 * Recovery is measured from the moment the component is back: until the stage it serves moves a
 * registration again (`resumedMs`), until a registration reaches `registered` (`firstRegisteredMs`), and
 * for Kafka until every event written before it came back has left the outbox (`backlogDrainedMs`).
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import { REGISTRATION_STATUSES, SETTLED_STATUSES, STAGE_STATUS, type Stage } from '../../core/domain/registration.js';
import type { ChaosCluster, Dependency, ServiceName } from './cluster.js';
import type { LoadProgress } from './load.js';

type ServiceTarget = Extract<ServiceName, 'intake' | 'verifier' | 'revocation' | 'provisioner'>;
type ServerTarget = 'redis' | 'kafka' | 'mongo';

export type FaultSpec =
  | { kind: 'kill'; target: ServiceTarget }
  | { kind: 'restart'; target: ServerTarget }
  | { kind: 'outage'; target: 'directory' }
  | { kind: 'pause'; target: ServiceTarget | ServerTarget }
  | { kind: 'partition'; target: Dependency; mode: 'blackhole' | 'reset' }
  | { kind: 'slow'; target: Dependency }
  | { kind: 'flush'; target: 'redis' };

export const ALL_FAULTS: FaultSpec[] = [
  { kind: 'kill', target: 'verifier' },
  { kind: 'pause', target: 'verifier' },
  { kind: 'restart', target: 'redis' },
  { kind: 'partition', target: 'mongo', mode: 'blackhole' },
  { kind: 'kill', target: 'intake' },
  { kind: 'pause', target: 'intake' },
  { kind: 'outage', target: 'directory' },
  { kind: 'slow', target: 'directory' },
  { kind: 'kill', target: 'revocation' },
  { kind: 'pause', target: 'redis' },
  { kind: 'partition', target: 'redis', mode: 'reset' },
  { kind: 'restart', target: 'mongo' },
  { kind: 'slow', target: 'mongo' },
  { kind: 'pause', target: 'mongo' },
  { kind: 'kill', target: 'provisioner' },
  { kind: 'partition', target: 'kafka', mode: 'blackhole' },
  { kind: 'slow', target: 'kafka' },
  { kind: 'pause', target: 'kafka' },
  { kind: 'restart', target: 'kafka' },
  { kind: 'slow', target: 'redis' },
  { kind: 'partition', target: 'directory', mode: 'blackhole' },
  { kind: 'flush', target: 'redis' },
];

/** The name `--faults` selects a fault by: the target for the kills, restarts and the outage (as before), else `<kind>-<target>`. */
export function faultKey(f: FaultSpec): string {
  return f.kind === 'kill' || f.kind === 'restart' || f.kind === 'outage' ? f.target : `${f.kind}-${f.target}`;
}

export interface FaultTimings {
  /** a killed service stays down this long before it is started again */
  serviceDowntimeMs: number;
  /** a killed server stays down this long before it is started again */
  serverDowntimeMs: { redis: number; kafka: number; mongo: number };
  directoryOutageMs: number;
  /** SIGSTOP → SIGCONT */
  pauseMs: number;
  /** a partition lasts this long */
  partitionMs: number;
  /** a slow link lasts this long, with this latency per chunk (+ up to `jitterMs`) */
  slowMs: number;
  latencyMs: number;
  jitterMs: number;
  /** the directory's latency per chunk while slow (beyond the fetch timeout) */
  directoryLatencyMs: number;
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
  /** what `--faults` calls it */
  key: string;
  kind: FaultSpec['kind'];
  target: string;
  /** the instance hit (`verifier-1`), for a service fault */
  instance?: string;
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
  /** a worker kill or pause waits (≤ `aimMs`) until the instance (or its stage) has a job running, so that it lands mid-job */
  activeJobsAtKill?: number;
  /** fault injected → component back (for a kill/restart: includes the deliberate downtime and the start) */
  outageMs: number;
  /** the (re)start alone: spawn → ready */
  startMs?: number;
  /** component back → the stage it serves moved a registration (null: not seen within the timeout) */
  resumedMs: number | null;
  /** component back → a registration reached `registered` */
  firstRegisteredMs: number | null;
  /** registrations that reached `registered` while the fault lasted */
  registeredDuring?: number | null;
  /** Kafka: component back → no event written before that left in the outbox */
  backlogDrainedMs?: number | null;
  /** a MongoDB blackhole: bytes the proxy held (written during the partition) when it healed, and connections held */
  heldBytesAtHeal?: number;
  heldConnectionsAtHeal?: number;
  /** a verifier pause: verify runs the paused instance started that another instance completed */
  takenOver?: number;
  /** a flush: registrations waiting in a stage when the keys went, and those the reconciler queued again */
  queuedAtFlush?: number | null;
  reconciled?: number | null;
  /** when nothing was left to process, recovery cannot be observed */
  note?: string;
  error?: string;
}

export function faultName(f: FaultSpec): string {
  switch (f.kind) {
    case 'kill':
      return `kill -9 ${f.target}`;
    case 'restart':
      return `kill -9 + restart ${f.target}`;
    case 'outage':
      return 'directory outage';
    case 'pause':
      return `pause ${f.target}`;
    case 'partition':
      return `partition ${f.target} (${f.mode})`;
    case 'slow':
      return `slow ${f.target}`;
    case 'flush':
      return 'FLUSHDB queue Redis';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAGE_OF: Record<'verifier' | 'revocation' | 'provisioner', Stage> = { verifier: 'verify', revocation: 'revocation', provisioner: 'provision' };
const IN_FLIGHT = REGISTRATION_STATUSES.filter((s) => !SETTLED_STATUSES.includes(s));
const QUEUED = [...new Set(Object.values(STAGE_STATUS).map((s) => s.queued))];
const isService = (t: string): t is ServiceTarget => t === 'intake' || t === 'verifier' || t === 'revocation' || t === 'provisioner';

/** What proves that the component serves again, as a MongoDB filter on registrations. */
function resumedFilter(f: FaultSpec, back: string): Record<string, unknown> {
  if ((f.kind === 'kill' || f.kind === 'pause') && isService(f.target)) {
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
  if (f.kind === 'flush') return { history: { $elemMatch: { event: 'reconciled', at: { $gt: back } } } };
  if ((f.kind === 'partition' || f.kind === 'slow') && f.target === 'directory') return { history: { $elemMatch: { stage: 'verify', event: 'transition', to: 'checking_revocation', at: { $gt: back } } } };
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
      const u = new URL(this.cluster.redisUrl);
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

  /** Jobs running on one instance of a worker: registrations in the stage whose run it started (verify), else the stage's active jobs. */
  async #activeOn(target: Exclude<ServiceTarget, 'intake'>, instance: string): Promise<number> {
    const stage = STAGE_OF[target];
    const running = STAGE_STATUS[stage].running;
    const identity = this.cluster.identity(instance);
    if (stage === 'verify' && identity)
      return this.#registrations().countDocuments({ status: running, history: { $elemMatch: { event: 'transition', stage, to: running, worker: identity } } });
    return (await this.#queue(stage).getJobCounts('active')).active ?? 0;
  }

  /** SIGSTOP / SIGCONT of a server process (its pid while it runs). */
  #signalServer(target: ServerTarget, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.cluster.infra.server(target).pid;
    if (!pid) throw new Error(`${target} is not running`);
    process.kill(pid, signal);
  }

  async #flushQueueRedis(): Promise<void> {
    const u = new URL(this.cluster.redisUrl);
    const redis = new Redis({ host: u.hostname, port: Number(u.port), maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
  }

  async #one(f: FaultSpec, progress: LoadProgress): Promise<FaultRecord> {
    let activeJobsAtKill: number | undefined;
    const instance = isService(f.target) && (f.kind === 'kill' || f.kind === 'pause') ? this.cluster.instancesOf(f.target)[0] : undefined;
    if (instance && isService(f.target)) {
      const target = f.target;
      activeJobsAtKill = target === 'intake' ? await this.#aim(async () => progress.inFlight) : await this.#aim(() => this.#activeOn(target, instance));
    } else if (f.kind === 'flush') {
      // the keys go while jobs wait in a queue: those registrations are stranded until the reconciler sees them
      await this.#aim(async () => {
        let waiting = 0;
        for (const stage of Object.keys(STAGE_STATUS) as Stage[]) {
          const c = await this.#queue(stage).getJobCounts('waiting', 'delayed', 'prioritized');
          waiting += (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
        }
        return waiting;
      });
    } else if (f.kind === 'partition' && f.target === 'mongo') {
      // heal mid-write: the partition begins while registrations are moving
      await this.#aim(async () => this.#registrations().countDocuments({ status: { $in: IN_FLIGHT } }));
    }
    const pipelineInFlight = await this.#registrations()
      .countDocuments({ status: { $in: IN_FLIGHT } })
      .catch(() => null);
    const queuedAtFlush = f.kind === 'flush' ? await this.#registrations().countDocuments({ status: { $in: QUEUED } }).catch(() => null) : undefined;
    const pausedIdentity = f.kind === 'pause' && instance && f.target === 'verifier' ? this.cluster.identity(instance) : undefined;
    const startedAtMs = Date.now();
    const record: FaultRecord = {
      fault: faultName(f),
      key: faultKey(f),
      kind: f.kind,
      target: f.target,
      ...(instance ? { instance } : {}),
      atSeconds: Math.round((startedAtMs - this.#t0) / 100) / 10,
      startedAt: new Date(startedAtMs).toISOString(),
      loadStarted: progress.started,
      underLoad: !progress.done,
      clientsInFlight: progress.inFlight,
      pipelineInFlight,
      ...(activeJobsAtKill !== undefined ? { activeJobsAtKill } : {}),
      ...(queuedAtFlush !== undefined ? { queuedAtFlush } : {}),
      outageMs: 0,
      resumedMs: null,
      firstRegisteredMs: null,
    };
    this.log(
      `fault: ${record.fault}${instance ? ` (${instance})` : ''} (load ${progress.started} started, ${progress.inFlight} clients waiting, ${pipelineInFlight ?? '?'} registrations in a stage${activeJobsAtKill !== undefined ? `, ${activeJobsAtKill} ${f.target === 'intake' ? 'requests open' : 'jobs running'}` : ''})`,
    );
    const t = this.timings;
    try {
      switch (f.kind) {
        case 'kill':
          await this.cluster.kill(instance as string, 'SIGKILL');
          await sleep(t.serviceDowntimeMs); // the deliberate downtime of the fault
          record.startMs = await this.cluster.start(instance as string);
          break;
        case 'restart': {
          const server = this.cluster.infra.server(f.target);
          await server.stop('SIGKILL');
          await sleep(t.serverDowntimeMs[f.target]);
          await server.start();
          record.startMs = server.lastStartMs;
          break;
        }
        case 'outage':
          await this.cluster.directory.setOutage(true);
          await sleep(t.directoryOutageMs);
          await this.cluster.directory.setOutage(false);
          break;
        case 'pause':
          if (instance) {
            this.cluster.pause(instance);
            try {
              await sleep(t.pauseMs);
            } finally {
              this.cluster.resume(instance);
            }
          } else {
            const server = f.target as ServerTarget;
            this.#signalServer(server, 'SIGSTOP');
            try {
              await sleep(t.pauseMs);
            } finally {
              this.#signalServer(server, 'SIGCONT');
            }
          }
          break;
        case 'partition': {
          const proxy = this.cluster.proxy(f.target);
          proxy.setMode(f.mode);
          try {
            await sleep(t.partitionMs);
          } finally {
            if (f.mode === 'blackhole') {
              record.heldBytesAtHeal = proxy.heldBytes;
              record.heldConnectionsAtHeal = proxy.connections;
            }
            proxy.setMode('pass');
          }
          break;
        }
        case 'slow': {
          const proxy = this.cluster.proxy(f.target);
          const before = { latencyMs: proxy.latencyMs, jitterMs: proxy.jitterMs };
          proxy.latencyMs = f.target === 'directory' ? t.directoryLatencyMs : t.latencyMs;
          proxy.jitterMs = f.target === 'directory' ? 0 : t.jitterMs;
          try {
            await sleep(t.slowMs);
          } finally {
            proxy.latencyMs = before.latencyMs;
            proxy.jitterMs = before.jitterMs;
          }
          break;
        }
        case 'flush':
          await this.#flushQueueRedis();
          break;
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
    record.registeredDuring = await this.#registrations()
      .countDocuments({ status: 'registered', updatedAt: { $gt: record.startedAt, $lte: back } })
      .catch(() => null);
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
    if (pausedIdentity) {
      // verify runs the paused instance had started and another instance completed (after its lease expired)
      record.takenOver = await this.#registrations()
        .countDocuments({
          $and: [
            { history: { $elemMatch: { event: 'transition', stage: 'verify', to: 'verifying', worker: pausedIdentity, at: { $lte: record.startedAt } } } },
            { history: { $elemMatch: { event: 'transition', stage: 'verify', from: 'verifying', worker: { $ne: pausedIdentity }, at: { $gt: record.startedAt } } } },
          ],
        })
        .catch(() => 0);
    }
    if (f.kind === 'flush') {
      record.reconciled = await this.#registrations()
        .countDocuments({ history: { $elemMatch: { event: 'reconciled', at: { $gt: back } } } })
        .catch(() => null);
    }
    if (resumed.idle || registered.idle) record.note = 'nothing left in flight to observe recovery with';
    this.log(
      `fault: ${record.fault} done: back after ${record.outageMs} ms${record.startMs !== undefined ? ` (start ${record.startMs} ms)` : ''}, stage resumed +${record.resumedMs ?? '?'} ms, registered +${record.firstRegisteredMs ?? '?'} ms${record.backlogDrainedMs !== undefined ? `, outbox backlog drained +${record.backlogDrainedMs ?? '?'} ms` : ''}${record.takenOver !== undefined ? `, ${record.takenOver} jobs taken over` : ''}${record.reconciled !== undefined ? `, ${record.reconciled ?? '?'} reconciled` : ''}${record.heldBytesAtHeal !== undefined ? `, ${record.heldBytesAtHeal} bytes held at heal` : ''}${record.error ? `, ERROR ${record.error}` : ''}`,
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
