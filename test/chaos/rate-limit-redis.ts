/**
 * The intake protections when their shared store fails. Starts a private redis-server, two
 * intake-like apps with the Redis-backed per-TPP rate limit (plugins/protection.ts), then kills Redis
 * mid-traffic and restarts it:
 *   1. Redis up: the budget is shared by both instances (429 after N).
 *   2. Redis killed: requests keep being served (the limit fails open, never 5xx), health answers.
 *   3. Redis back (same port, empty): counting resumes and the limit applies again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { errorsPlugin } from '../../platform/http/fastify-errors.js';
import { protectionPlugin } from '../../services/intake/plugins/protection.js';
import { healthRoutes } from '../../services/intake/routes/health.js';
import { openRateLimitStore } from '../../platform/runtime/service-stores.js';
import { freeTcpPort } from '../../testkit/ports.js';

const LIMIT = 5;

export interface RateLimitCheck {
  what: string;
  ok: boolean;
  detail: string;
}

export interface RateLimitResult {
  ok: boolean;
  checks: RateLimitCheck[];
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // Ready when it accepts a TCP connection (polled, bounded).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('redis-server did not accept connections within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function app(redisUrl: string): Promise<FastifyInstance> {
  const a = Fastify();
  await a.register(errorsPlugin);
  await a.register(protectionPlugin, { rateLimitPerMinute: LIMIT, maxEventLoopDelayMs: 0, rateLimitStore: await openRateLimitStore({ redisUrl, namespace: 'chaos' }) });
  await a.register(healthRoutes, { ready: async () => undefined });
  a.get('/work', async () => ({ ok: true }));
  await a.ready();
  return a;
}

const statuses = async (apps: FastifyInstance[], n: number, ip: string) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await apps[i % apps.length]!.inject({ url: '/work', remoteAddress: ip })).statusCode);
  return out;
};

/** Runs the three phases; `log` gets one line per check. */
export async function rateLimitRedisCheck(log: (line: string) => void = (l) => console.log(l)): Promise<RateLimitResult> {
  const checks: RateLimitCheck[] = [];
  const check = (what: string, ok: boolean, detail = '') => {
    checks.push({ what, ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  };
  const port = await freeTcpPort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const apps = [await app(url), await app(url)];
  const [one] = apps;
  try {
    const phase1 = await statuses(apps, LIMIT + 3, '10.0.0.1');
    check('Redis up: one budget across two instances', phase1.filter((s) => s === 200).length === LIMIT && phase1.slice(LIMIT).every((s) => s === 429), phase1.join(','));

    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const phase2 = await statuses(apps, 20, '10.0.0.2');
    check('Redis killed: requests still served, never 5xx (the limit fails open)', phase2.every((s) => s === 200), phase2.join(','));
    const health = await one!.inject({ url: '/health/live' });
    check('Redis killed: health answers', health.statusCode === 200);

    redis = await startRedis(port);
    // ioredis reconnects on its own; poll until counting works again (a 429 shows up), bounded.
    let phase3: number[] = [];
    for (let round = 0; round < 100 && !phase3.includes(429); round++) {
      phase3 = await statuses(apps, LIMIT + 2, `10.0.1.${round}`);
      if (!phase3.includes(429)) await new Promise((r) => setTimeout(r, 100));
    }
    check('Redis back: the limit applies again', phase3.filter((s) => s === 200).length === LIMIT && phase3.includes(429), phase3.join(','));
    check('no 5xx at any point', [...phase1, ...phase2, ...phase3].every((s) => s < 500));
  } finally {
    await Promise.all(apps.map((a) => a.close()));
    redis.kill('SIGKILL');
  }
  return { ok: checks.every((c) => c.ok), checks };
}
