/**
 * Proves the test infrastructure (test/setup/global-infra.ts, test/support/infra.ts) works through the
 * real clients the services use: kafkajs, the mongodb driver 6.x, ioredis and BullMQ. The restart tests
 * start private servers of their own (stop with SIGKILL, start again on the same port and data dir).
 * Skipped when inject('infra') is null (DCR_TEST_INFRA=off outside CI).
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { MongoClient, MongoServerError } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startInfra, type Infra } from './support/infra.js';

const infra = inject('infra');

function waitFor<T>(what: string, ms: number, register: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

function redisOptions(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

describe.skipIf(!infra)('test infrastructure (shared servers from globalSetup)', () => {
  const { kafkaBrokers, mongoUrl, redisUrl } = infra ?? { kafkaBrokers: '', mongoUrl: '', redisUrl: '' };

  it('uses free ports, never the defaults', () => {
    const ports = [Number(kafkaBrokers.split(':')[1]), Number(new URL(mongoUrl).port), Number(new URL(redisUrl).port)];
    for (const p of ports) {
      expect(p).toBeGreaterThan(1024);
      expect([6379, 9092, 27017]).not.toContain(p);
    }
  });

  it('kafka: admin creates a topic, an idempotent producer sends, a consumer group receives', async () => {
    const kafka = new Kafka({ clientId: 'infra-test', brokers: [kafkaBrokers], logLevel: logLevel.WARN });
    const topic = `infra-test-${randomUUID()}`;
    const admin = kafka.admin();
    const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    const consumer: Consumer = kafka.consumer({ groupId: `infra-test-${randomUUID()}`, maxWaitTimeInMs: 200 });
    try {
      await admin.connect();
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })).toBe(true);
      expect(await admin.listTopics()).toContain(topic);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions).toHaveLength(3);

      await producer.connect();
      const [sent] = await producer.send({ topic, acks: -1, messages: [{ key: 'client-1', value: 'registered' }] });
      expect(sent?.errorCode).toBe(0);

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = waitFor<{ key: string; value: string }>('the kafka message', 30_000, (resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
        });
      });
      expect(await received).toEqual({ key: 'client-1', value: 'registered' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('mongo: insert/find, unique index duplicate-key error, findOneAndUpdate', async () => {
    const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
      const db = client.db(`infra_test_${randomUUID().replace(/-/g, '')}`);
      const clients = db.collection<{ _id?: unknown; clientId: string; status: string; version?: number }>('clients');
      await clients.createIndex({ clientId: 1 }, { unique: true });

      await clients.insertOne({ clientId: 'c-1', status: 'pending', version: 1 });
      expect(await clients.findOne({ clientId: 'c-1' }, { projection: { _id: 0 } })).toEqual({
        clientId: 'c-1',
        status: 'pending',
        version: 1,
      });

      const dup = await clients.insertOne({ clientId: 'c-1', status: 'other' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(dup).toBeInstanceOf(MongoServerError);
      expect((dup as MongoServerError).code).toBe(11000);

      const updated = await clients.findOneAndUpdate(
        { clientId: 'c-1', version: 1 },
        { $set: { status: 'active' }, $inc: { version: 1 } },
        { returnDocument: 'after' },
      );
      expect(updated).toMatchObject({ clientId: 'c-1', status: 'active', version: 2 });
      // the optimistic-concurrency miss: the old version no longer matches
      expect(await clients.findOneAndUpdate({ clientId: 'c-1', version: 1 }, { $set: { status: 'x' } })).toBeNull();
      await db.dropDatabase();
    } finally {
      await client.close();
    }
  });

  it('redis: set/get through ioredis', async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const key = `infra-test:${randomUUID()}`;
      expect(await redis.set(key, 'v1', 'EX', 60)).toBe('OK');
      expect(await redis.get(key)).toBe('v1');
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      redis.disconnect();
    }
  });

  it('bullmq: Queue.add and a Worker processes the job', async () => {
    const connection = { ...redisOptions(redisUrl), maxRetriesPerRequest: null };
    const name = `infra-test-${randomUUID()}`;
    const queue = new Queue(name, { connection });
    let worker: Worker | undefined;
    try {
      const done = waitFor<{ id: string | undefined; result: unknown }>('the bullmq job', 30_000, (resolve) => {
        worker = new Worker(name, async (job: Job<{ n: number }>) => ({ doubled: job.data.n * 2 }), { connection });
        worker.on('completed', (job, result) => resolve({ id: job.id, result }));
      });
      const job = await queue.add('double', { n: 21 });
      const completed = await done;
      expect(completed).toEqual({ id: job.id, result: { doubled: 42 } });
    } finally {
      await worker?.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  });
});

describe.skipIf(!infra)('restarts on the same port (private servers)', () => {
  const started: Infra[] = [];
  afterAll(async () => {
    await Promise.all(started.map((i) => i.stop()));
  });

  it('redis with appendonly keeps its data across SIGKILL + start', async () => {
    const own = await startInfra({ redis: { appendonly: true } });
    started.push(own);
    const server = own.server('redis');
    const port = server.port;
    const redis = new Redis(own.redisUrl!, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    try {
      await redis.set('survivor', 'yes');
      await redis.hset('h', { a: '1', b: '2' });
      await server.stop('SIGKILL');
      expect(server.running).toBe(false);
      await server.start();
      expect(server.port).toBe(port);
      // the same ioredis client reconnects to the same port
      expect(await redis.get('survivor')).toBe('yes');
      expect(await redis.hgetall('h')).toEqual({ a: '1', b: '2' });
    } finally {
      redis.disconnect();
    }
  });

  it('redis pause (a hung server) and resume', async () => {
    const own = await startInfra({ redis: true });
    started.push(own);
    const redis = new Redis(own.redisUrl!, { maxRetriesPerRequest: 1, commandTimeout: 500 });
    try {
      expect(await redis.ping()).toBe('PONG');
      own.redis!.pause();
      await expect(redis.ping()).rejects.toThrow(/timed out/i);
      own.redis!.resume();
      await expect.poll(() => redis.ping().catch(() => 'not yet'), { timeout: 5000 }).toBe('PONG');
      // stop() after pause() still works (SIGCONT first)
      own.redis!.pause();
      await own.redis!.stop();
      expect(own.redis!.running).toBe(false);
    } finally {
      redis.disconnect();
    }
  });

  it('mongo with the H2 backend keeps documents and indexes across SIGKILL + start', async () => {
    const own = await startInfra({ mongo: { backend: 'h2' } });
    started.push(own);
    const server = own.server('mongo');
    const port = server.port;
    const client = new MongoClient(own.mongoUrl!, { serverSelectionTimeoutMS: 10_000 });
    try {
      const coll = () => client.db('durable').collection<{ clientId: string; n: number }>('clients');
      await coll().createIndex({ clientId: 1 }, { unique: true });
      await coll().insertMany([
        { clientId: 'a', n: 1 },
        { clientId: 'b', n: 2 },
      ]);
      await coll().updateOne({ clientId: 'b' }, { $inc: { n: 40 } });
      // no pause: each acknowledged write is committed to the MVStore file before its reply
      await server.stop('SIGKILL');
      await server.start();
      expect(server.port).toBe(port);

      // the same MongoClient reconnects to the same port
      const docs = await coll().find({}, { projection: { _id: 0 } }).sort({ clientId: 1 }).toArray();
      expect(docs).toEqual([
        { clientId: 'a', n: 1 },
        { clientId: 'b', n: 42 },
      ]);
      const dup = await coll().insertOne({ clientId: 'a', n: 3 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((dup as MongoServerError | undefined)?.code).toBe(11000);
    } finally {
      await client.close(true);
    }
  });

  it('kafka: a consumer group keeps consuming, and rejoins, across a broker SIGKILL + start', async () => {
    const own = await startInfra({ kafka: true });
    started.push(own);
    const server = own.server('kafka');
    const kafka = new Kafka({
      clientId: 'infra-restart-test',
      brokers: [own.kafkaBrokers!],
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    const topic = 'restart-topic';
    const groupId = 'restart-group';
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    const seen: string[] = [];
    const waiters: Array<() => void> = [];
    const until = (value: string, ms: number) =>
      waitFor<void>(`kafka message ${value}`, ms, (resolve) => {
        const check = () => {
          if (seen.includes(value)) resolve();
        };
        waiters.push(check);
        check();
      });
    const newConsumer = () =>
      kafka.consumer({ groupId, maxWaitTimeInMs: 200, heartbeatInterval: 500, sessionTimeout: 10_000 });
    let consumer = newConsumer();
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      await admin.disconnect();
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.value));
          for (const w of waiters) w();
        },
      });
      // kafkajs commits after each batch: wait for that commit, so that 'before' is not delivered again
      const committed = waitFor<void>('the offset commit', 30_000, (resolve) => {
        consumer.on(consumer.events.COMMIT_OFFSETS, () => resolve());
      });
      await producer.send({ topic, acks: -1, messages: [{ value: 'before' }] });
      await until('before', 30_000);
      await committed;

      await server.stop('SIGKILL');
      await server.start();

      // the same producer and consumer carry on after the broker came back on the same port
      await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] });
      await until('after', 60_000);

      // a new member of the same group joins and resumes from the committed offsets
      await consumer.disconnect();
      consumer = newConsumer();
      const joined = waitFor<void>('the group rejoin', 60_000, (resolve) => {
        consumer.on(consumer.events.GROUP_JOIN, () => resolve());
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.value));
          for (const w of waiters) w();
        },
      });
      await joined;
      await producer.send({ topic, acks: -1, messages: [{ value: 'after-rejoin' }] });
      await until('after-rejoin', 60_000);
      // committed offsets survived the crash: nothing was delivered a second time
      expect(seen).toEqual(['before', 'after', 'after-rejoin']);
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
    }
  }, 180_000);
});
