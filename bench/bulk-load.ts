/**
 * Bulk-loads registered clients straight into the embedded pipeline's SQLite file (the `scale`
 * scenario): for each new client a `clients` row and the `registrations` row of the request that
 * created it (status `registered`), as the provisioner and the stage runner leave them.
 *
 * The documents are clones of real ones: the scenario first registers one client per bench TPP
 * through the running pipeline (the real builders: intake, verifier, provisioner, response builder),
 * and each clone is one of those documents with its own request id, client id, registration access
 * token (its SHA-256 as `tokenHash`, the token sealed with the data directory's key and the new
 * request id, as the provisioner does), submission key and timestamps (every ISO timestamp of the
 * template moved by the same amount, spread over the two years before the load, in insertion order;
 * `client_id_issued_at` to match). Same sizes and shapes as real rows; the certificate, the TPP
 * (`tppIdentity`, `certificateThumbprint`) and the signed request are the template's, so a GET with
 * the clone's token and that TPP's certificate authenticates.
 *
 * Runs in a child process (bench/bulk-load-worker.ts) so its memory is not the pipeline's, on its own
 * connection with `synchronous=OFF` (benchmark data need not survive a crash), prepared statements and
 * transactions of ≈ 50 000 rows, cut short after 1 s: the pipeline keeps its connection open
 * meanwhile and its idle writes (queue claims, relay lease) wait for the write lock up to its
 * `busy_timeout` (5 s). A WAL checkpoint (TRUNCATE) after each transaction: the automatic (passive)
 * checkpoints copy the pages but, with the pipeline's connection writing between our transactions,
 * the WAL was never restarted and grew as large as the database (11 GB a third of the way to 1M);
 * so the WAL stays at one transaction and the measured phases start on an empty one, with the
 * database file synced to disk (as a store that has been running is). Before loading,
 * the free disk space is checked against the estimated size (the documents are ≈ 27 kB per client).
 * Progress goes to stderr. Returns a uniform sample (reservoir) of the loaded
 * clients with their plain tokens, for the GET phase.
 *
 * Not loaded: `events` (kept forever by the embedded bus, indexed by (topic, seq): reads are by
 * topic and sequence, not by client), `outbox` (published entries are purged after a day), `jobs`
 * (deleted once done), `jtis` (an hour of requests): none of them grows with the number of clients.
 */
import { fork } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { TokenSealer, hashToken } from '../platform/crypto/token-sealer.js';
import { newAccessToken, newClientId, sha256Base64url, uuidV7 } from '../core/domain/ids.js';

export interface BulkLoadJob {
  dataDir: string;
  /** clients to add */
  count: number;
  /** the real clients to clone, round-robin, with the bench TPP (index into the generator's identities) that registered each */
  templates: Array<{ clientId: string; identity: number }>;
  /** how many loaded clients (uniformly chosen) to return with their tokens */
  sampleSize: number;
  rowsPerTransaction?: number;
  maxTransactionMs?: number;
}

export interface SampledClient {
  clientId: string;
  token: string;
  identity: number;
}

export interface BulkLoadResult {
  loaded: number;
  rows: number;
  seconds: number;
  clientsPerSecond: number;
  transactions: number;
  longestTransactionMs: number;
  /** the WAL checkpoints (TRUNCATE) after each transaction and at the end, in all */
  checkpointMs: number;
  meanClientDocBytes: number;
  meanRegistrationDocBytes: number;
  /** after the load and the checkpoint */
  databaseMb: number;
  walMb: number;
  clientsInDatabase: number;
  registrationsInDatabase: number;
  sample: SampledClient[];
}

const TWO_YEARS_MS = 2 * 365 * 86_400_000;
const ISO = /"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"/g;

/**
 * A document with slots: `literals` maps exact substrings of `doc` to slot names; every occurrence
 * of a literal becomes its slot. `render` joins the fixed parts with the slots' values.
 */
function compile(doc: string, literals: Map<string, string>): (values: Record<string, string>) => string {
  const escaped = [...literals.keys()].sort((a, b) => b.length - a.length).map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const parts: string[] = [];
  const slots: string[] = [];
  let last = 0;
  for (const m of doc.matchAll(new RegExp(escaped.join('|'), 'g'))) {
    parts.push(doc.slice(last, m.index));
    slots.push(literals.get(m[0]) as string);
    last = m.index + m[0].length;
  }
  parts.push(doc.slice(last));
  for (const l of literals.keys()) if (!doc.includes(l)) throw new Error(`template has no ${l.slice(0, 40)}`);
  return (values) => {
    let out = parts[0] as string;
    for (let i = 0; i < slots.length; i++) {
      const v = values[slots[i] as string];
      if (v === undefined) throw new Error(`no value for slot ${slots[i]}`);
      out += v + (parts[i + 1] as string);
    }
    return out;
  };
}

/** Every ISO timestamp of `doc` as a slot `ts:<ms after base>`. */
function timestampSlots(doc: string, base: number, into: Map<string, string>, offsets: Set<number>): void {
  for (const m of doc.matchAll(ISO)) {
    const offset = Date.parse(m[1] as string) - base;
    into.set(`"${m[1]}"`, `ts:${offset}`);
    offsets.add(offset);
  }
}

interface Template {
  identity: number;
  registration: (v: Record<string, string>) => string;
  client: (v: Record<string, string>) => string;
  offsets: number[];
  regStatus: string;
  regVersion: number;
  regLastError: string | null;
  regUpdatedOffset: number;
  clientStatus: string;
  clientVersion: number;
  clientCreatedOffset: number;
}

function prepareTemplate(db: Database.Database, clientId: string, identity: number): Template {
  const c = db.prepare<[string], { doc: string }>('SELECT doc FROM clients WHERE client_id = ?').get(clientId);
  if (!c) throw new Error(`template client ${clientId} not in the database`);
  const client = JSON.parse(c.doc) as { requestId: string; tokenHash: string; clientIdIssuedAt: number; createdAt: string; status: string; version: number };
  const r = db.prepare<[string], { doc: string; status: string; version: number; last_error: string | null }>('SELECT doc, status, version, last_error FROM registrations WHERE id = ?').get(client.requestId);
  if (!r) throw new Error(`template registration ${client.requestId} not in the database`);
  // The record and its parts (registration_parts, one row per large member) as one template, a line each.
  const parts = db.prepare<[string], { part: string; value: string }>('SELECT part, value FROM registration_parts WHERE id = ?').all(client.requestId);
  const registration = [r.doc, ...parts.map((p) => `${p.part}\t${p.value}`)].join('\n');
  const reg = JSON.parse(r.doc) as { submittedAt: string; updatedAt: string; submissionKey: string; sealedToken?: string | null; tokenHash?: string | null; clientId?: string | null };
  if (reg.clientId !== clientId || reg.tokenHash !== client.tokenHash || !reg.sealedToken) throw new Error(`template registration ${client.requestId} does not match client ${clientId}`);
  const base = Date.parse(reg.submittedAt);
  const offsets = new Set<number>();
  const common = (): Map<string, string> =>
    new Map([
      [client.requestId, 'requestId'],
      [clientId, 'clientId'],
      [client.tokenHash, 'tokenHash'],
      [`"client_id_issued_at":${client.clientIdIssuedAt}`, 'issuedAtSnake'],
    ]);
  const regSlots = common();
  regSlots.set(reg.submissionKey, 'submissionKey');
  regSlots.set(reg.sealedToken, 'sealedToken');
  timestampSlots(registration, base, regSlots, offsets);
  const clientSlots = common();
  clientSlots.set(`"clientIdIssuedAt":${client.clientIdIssuedAt}`, 'issuedAtCamel');
  timestampSlots(c.doc, base, clientSlots, offsets);
  return {
    identity,
    registration: compile(registration, regSlots),
    client: compile(c.doc, clientSlots),
    offsets: [...offsets],
    regStatus: r.status,
    regVersion: r.version,
    regLastError: r.last_error,
    regUpdatedOffset: Date.parse(reg.updatedAt) - base,
    clientStatus: client.status,
    clientVersion: client.version,
    clientCreatedOffset: Date.parse(client.createdAt) - base,
  };
}

function mb(path: string): number {
  return existsSync(path) ? Math.round((statSync(path).size / 2 ** 20) * 10) / 10 : 0;
}

export function bulkLoad(job: BulkLoadJob, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): BulkLoadResult {
  const file = join(job.dataDir, 'dcr.sqlite');
  if (!existsSync(file)) throw new Error(`no database at ${file}`);
  if (!existsSync(join(job.dataDir, 'keys', 'token-sealing.key'))) throw new Error('no token sealing key in the data directory (DCR_TOKEN_SEALING_KEY set?)');
  const sealer = TokenSealer.load(undefined, job.dataDir);
  const db = new Database(file);
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  const rowsPerTransaction = job.rowsPerTransaction ?? 50_000;
  const maxTransactionMs = job.maxTransactionMs ?? 1000;
  try {
    const templates = job.templates.map((t) => prepareTemplate(db, t.clientId, t.identity));
    if (templates.length === 0) throw new Error('no templates');
    const sampleValues = { requestId: uuidV7(), clientId: newClientId(), tokenHash: 'x'.repeat(43), submissionKey: 'x'.repeat(43), sealedToken: 'x'.repeat(100), issuedAtSnake: '', issuedAtCamel: '' };
    const perClient = templates.reduce((a, t) => {
      const v: Record<string, string> = { ...sampleValues };
      for (const o of t.offsets) v[`ts:${o}`] = '"2020-01-01T00:00:00.000Z"';
      return a + t.registration(v).length + t.client(v).length;
    }, 0) / templates.length;
    // table and index pages, B-tree slack and one transaction of WAL on top of the documents
    const neededBytes = perClient * job.count * 1.25 + 2 * 2 ** 30;
    const fs = statfsSync(job.dataDir);
    const freeBytes = fs.bavail * fs.bsize;
    log(`  bulk load: ≈ ${Math.round(perClient)} bytes of documents per client, ≈ ${(neededBytes / 2 ** 30).toFixed(1)} GB needed, ${(freeBytes / 2 ** 30).toFixed(1)} GB free`);
    if (neededBytes > freeBytes - 10 * 2 ** 30) throw new Error(`not enough disk space for ${job.count} clients (keeping 10 GB free)`);
    const insertRegistration = db.prepare(
      `INSERT INTO registrations (id, submission_key, status, submitted_at, updated_at, last_error, version, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertPart = db.prepare('INSERT INTO registration_parts (id, part, value) VALUES (?, ?, ?)');
    const insertClient = db.prepare('INSERT INTO clients (client_id, request_id, status, version, doc) VALUES (?, ?, ?, ?, ?)');
    const sample: SampledClient[] = [];
    const t0 = performance.now();
    const start = Date.now() - TWO_YEARS_MS;
    const step = TWO_YEARS_MS / Math.max(1, job.count);
    let clientBytes = 0;
    let registrationBytes = 0;
    let transactions = 0;
    let longest = 0;
    let checkpointMs = 0;
    let lastLog = t0;
    let i = 0;
    while (i < job.count) {
      const tx0 = performance.now();
      db.exec('BEGIN IMMEDIATE');
      let rows = 0;
      try {
        while (i < job.count && rows < rowsPerTransaction) {
          const t = templates[i % templates.length] as Template;
          const base = Math.floor(start + i * step);
          const requestId = uuidV7(base); // as the intake mints them (core/domain/ids.ts), at the registration's time
          const clientId = newClientId();
          const token = newAccessToken();
          const tokenHash = hashToken(token);
          const values: Record<string, string> = {
            requestId,
            clientId,
            tokenHash,
            submissionKey: sha256Base64url(`bulk\n${requestId}`),
            sealedToken: sealer.seal(token, requestId),
            issuedAtSnake: `"client_id_issued_at":${Math.floor((base + t.clientCreatedOffset) / 1000)}`,
            issuedAtCamel: `"clientIdIssuedAt":${Math.floor((base + t.clientCreatedOffset) / 1000)}`,
          };
          for (const o of t.offsets) values[`ts:${o}`] = `"${new Date(base + o).toISOString()}"`;
          const [regDoc = '', ...partLines] = t.registration(values).split('\n');
          const clientDoc = t.client(values);
          insertRegistration.run(
            requestId,
            values.submissionKey,
            t.regStatus,
            new Date(base).toISOString(),
            new Date(base + t.regUpdatedOffset).toISOString(),
            t.regLastError,
            t.regVersion,
            regDoc,
          );
          for (const line of partLines) {
            const tab = line.indexOf('\t');
            insertPart.run(requestId, line.slice(0, tab), line.slice(tab + 1));
            registrationBytes += line.length;
          }
          insertClient.run(clientId, requestId, t.clientStatus, t.clientVersion, clientDoc);
          registrationBytes += regDoc.length;
          clientBytes += clientDoc.length;
          // reservoir sample (algorithm R): every loaded client equally likely
          if (sample.length < job.sampleSize) sample.push({ clientId, token, identity: t.identity });
          else {
            const j = Math.floor(Math.random() * (i + 1));
            if (j < job.sampleSize) sample[j] = { clientId, token, identity: t.identity };
          }
          i++;
          rows += 2;
          if ((rows & 255) === 0 && performance.now() - tx0 > maxTransactionMs) break;
        }
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      transactions++;
      longest = Math.max(longest, performance.now() - tx0);
      const c0 = performance.now();
      const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      checkpointMs += performance.now() - c0;
      if (checkpoint?.busy) log(`  bulk load: checkpoint after transaction ${transactions} could not complete (busy); WAL ${mb(`${file}-wal`)} MB`);
      const now = performance.now();
      if (now - lastLog > 2000 || i === job.count) {
        lastLog = now;
        const rate = i / ((now - t0) / 1000);
        log(
          `  bulk load: ${i}/${job.count} clients (${((i / job.count) * 100).toFixed(0)} %), ${Math.round(rate)}/s, ${transactions} transactions, ` +
            `database ${mb(file)} MB + WAL ${mb(`${file}-wal`)} MB${i < job.count ? `, ≈ ${Math.round((job.count - i) / rate)} s left` : ''}`,
        );
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    // The measured phases start on an empty WAL, as the smaller counts do: the pipeline's own
    // checkpoint (its worker copying what we wrote) or a retention round can hold the checkpoint or a
    // snapshot, which makes a TRUNCATE answer busy; try again until it completes (10 min at most).
    const c0 = performance.now();
    for (let tries = 1; ; tries++) {
      const [final] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      if (!final?.busy) break;
      if (performance.now() - c0 > 600_000) throw new Error(`the WAL could not be checkpointed after the load (${mb(`${file}-wal`)} MB)`);
      if (tries % 6 === 1) log(`  bulk load: final checkpoint busy (try ${tries}); WAL ${mb(`${file}-wal`)} MB`);
    }
    checkpointMs += performance.now() - c0;
    // And on disk: written with synchronous=OFF, the load would otherwise sit in the page cache as
    // gigabytes of dirty pages that the kernel writes back during the measured phases, where every
    // fsync of the pipeline (its group commit, its checkpoints) would wait behind them for seconds.
    const s0 = performance.now();
    const dirtyMb = () => Math.round(Number(/^Dirty:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024);
    const dirtyBefore = dirtyMb();
    const fd = openSync(file, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    log(`  bulk load: database file synced in ${((performance.now() - s0) / 1000).toFixed(1)} s (dirty page cache ${dirtyBefore} MB before, ${dirtyMb()} MB after)`);
    const clientsInDatabase = (db.prepare('SELECT COUNT(*) AS n FROM clients').get() as { n: number }).n;
    const registrationsInDatabase = (db.prepare('SELECT COUNT(*) AS n FROM registrations').get() as { n: number }).n;
    const result: BulkLoadResult = {
      loaded: job.count,
      rows: job.count * 2,
      seconds: Math.round(seconds * 10) / 10,
      clientsPerSecond: seconds > 0 ? Math.round(job.count / seconds) : 0,
      transactions,
      longestTransactionMs: Math.round(longest),
      checkpointMs: Math.round(checkpointMs),
      meanClientDocBytes: job.count ? Math.round(clientBytes / job.count) : 0,
      meanRegistrationDocBytes: job.count ? Math.round(registrationBytes / job.count) : 0,
      databaseMb: mb(file),
      walMb: mb(`${file}-wal`),
      clientsInDatabase,
      registrationsInDatabase,
      sample,
    };
    log(
      `  bulk load: ${job.count} clients in ${result.seconds} s (${result.clientsPerSecond}/s, ${transactions} transactions, longest ${result.longestTransactionMs} ms), ` +
        `checkpoints ${result.checkpointMs} ms in all; docs ≈ ${result.meanClientDocBytes} B (client) + ${result.meanRegistrationDocBytes} B (registration); ` +
        `database ${result.databaseMb} MB, WAL ${result.walMb} MB; ${clientsInDatabase} clients, ${registrationsInDatabase} registrations in the database`,
    );
    return result;
  } finally {
    db.close();
  }
}

export type BulkLoadMessage = { kind: 'result'; result: BulkLoadResult } | { kind: 'error'; message: string };

/** Runs {@link bulkLoad} in a child Node process (bench/bulk-load-worker.ts); its progress goes to stderr directly. */
export function bulkLoadInChild(job: BulkLoadJob): Promise<BulkLoadResult> {
  const worker = fileURLToPath(new URL('./bulk-load-worker.ts', import.meta.url));
  const child = fork(worker, [], {
    execArgv: [...process.execArgv.filter((a) => a.startsWith('--cpu-prof')), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    child.on('message', (raw) => {
      const message = raw as BulkLoadMessage;
      settled = true;
      if (message.kind === 'result') resolve(message.result);
      else reject(new Error(`bulk load: ${message.message}`));
      child.disconnect();
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`bulk load worker exited with ${code}`));
    });
    child.send(job);
  });
}
