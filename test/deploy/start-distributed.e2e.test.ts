import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SandboxDirectory, sandboxCredentials } from '../../sandbox/directory-sandbox/index.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { defaultRegistrationClaims, signRegistrationRequest } from '../../sandbox/tpp-client/registration-request.js';
import type { InfraUrls } from '../support/pipeline.js';
import { freeTcpPort } from '../../testkit/ports.js';

const infra = inject('infra') as InfraUrls;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * `npm run start:distributed` as a user runs it: it builds, starts Kafka, mongo-java-server and
 * redis-server and every service as its own process; a TPP registers through it; Ctrl-C (SIGINT to
 * its process group) stops it, and none of its processes is left.
 */
describe.skipIf(!infra)('npm run start:distributed', () => {
  let launcher: ChildProcess | undefined;
  let dataDir = '';
  let output = '';

  afterAll(async () => {
    if (launcher?.pid && launcher.exitCode === null && launcher.signalCode === null) {
      try {
        process.kill(-launcher.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts every service, registers a TPP with 201, and stops everything on Ctrl-C', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dcr-launch-'));
    const ports = { intake: await freeTcpPort(), sandbox: await freeTcpPort(), as: await freeTcpPort(), admin: await freeTcpPort() };
    const env: Record<string, string | undefined> = {
      ...process.env,
      DCR_DATA_DIR: dataDir,
      DCR_HTTPS_PORT: String(ports.intake),
      DCR_SANDBOX_PORT: String(ports.sandbox),
      DCR_AS_PORT: String(ports.as),
      DCR_ADMIN_PORT: String(ports.admin),
      DCR_LOG_LEVEL: 'warn',
    };
    for (const own of ['DCR_MONGO_URL', 'DCR_REDIS_URL', 'DCR_KAFKA_BROKERS', 'DCR_ADMIN_TOKEN']) delete env[own];
    const child = spawn('npm', ['run', '--silent', 'start:distributed'], { cwd: process.cwd(), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('distributed mode ready')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void exited.then(({ code, signal }) => reject(new Error(`the launcher exited (${code ?? signal}) before it was ready:\n${output.slice(-4000)}`)));
    });

    // Every service is its own process, with the servers' pids.
    const line = /processes\s+(.*)/.exec(output)?.[1] ?? '';
    const pids = Object.fromEntries(line.trim().split(/\s+/).map((kv) => kv.split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));
    expect(Object.keys(pids).sort()).toEqual(['directory-sandbox', 'gateway-sync', 'intake', 'kafka', 'mongo', 'ops', 'provisioner', 'redis', 'revocation', 'sandbox-as', 'verifier']);
    for (const pid of Object.values(pids)) expect(alive(pid)).toBe(true);
    expect(new Set(Object.values(pids)).size).toBe(11);
    expect(output).toContain('Try next');
    expect(output).toContain(`https://localhost:${ports.intake}`);

    // A TPP registers through the intake process: 201 with a client.
    const directory = await SandboxDirectory.open({ dataDir, baseUrl: `https://localhost:${ports.sandbox}` });
    const tpp = await directory.createTpp('acme');
    const credentials = sandboxCredentials(tpp);
    const publicUrl = `https://localhost:${ports.intake}`;
    const res = await httpsRequest(`${publicUrl}/register`, {
      method: 'POST',
      body: await signRegistrationRequest(credentials, defaultRegistrationClaims(credentials, publicUrl)),
      headers: { 'content-type': 'application/jose' },
      identity: { certPem: tpp.transportCertPem, keyPem: tpp.transportKeyPem, caPem: directory.caCertPem },
    });
    expect(res.status, `${res.text}\n${output.slice(-3000)}`).toBe(201);
    const clientId = String(res.json().client_id);

    // The ops process reads the same MongoDB: the client is there, active.
    const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    const clients = await fetch(`http://127.0.0.1:${ports.admin}/admin/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(clients.status).toBe(200);
    expect(((await clients.json()) as { clients: Array<{ client_id: string; status: string }> }).clients).toEqual([expect.objectContaining({ client_id: clientId, status: 'active' })]);

    // Ctrl-C: SIGINT to the launcher's process group, as a terminal sends it.
    process.kill(-(child.pid as number), 'SIGINT');
    const end = await exited;
    // The launcher exits 0; npm, Ctrl-C'd itself, passes the SIGINT on as shells expect (exit 130).
    expect([{ code: 0, signal: null }, { code: null, signal: 'SIGINT' }], output.slice(-3000)).toContainEqual(end);
    expect(output).toContain('stopped; nothing left running.');
    expect(output).not.toMatch(/exited unexpectedly|start-up failed/);
    const left = Object.entries(pids).filter(([, pid]) => alive(pid));
    expect(left, output.slice(-3000)).toEqual([]);
  }, 420_000);
});
