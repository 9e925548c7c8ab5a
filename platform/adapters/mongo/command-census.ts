import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BSON, type CommandFailedEvent, type CommandStartedEvent, type CommandSucceededEvent, type MongoClient, type MongoClientOptions } from 'mongodb';

/**
 * A command census of one MongoClient (issue 20, off unless `DCR_MONGO_COMMAND_CENSUS_DIR` is set):
 * the driver's command monitor counts every command this process sends, per command name, collection
 * and, for reads and writes, the filter's shape (its sorted top-level keys; never a value), per window
 * (10 s), with the summed durations and reply sizes, plus the connection pool's churn and the
 * topology's heartbeats. One JSON line per window to `<dir>/<instance>-<pid>.jsonl`. When off, the
 * client is built without `monitorCommands` and no listener is attached: production pays nothing.
 */

export interface CommandCensusOptions {
  dir: string;
  /** names the process in the file name and each line (the service, e.g. `intake`) */
  instance: string;
  windowMs?: number;
}

/** One counted kind of command in one window. */
export interface CensusEntry {
  command: string;
  collection: string;
  /** sorted top-level keys of the filter (find, aggregate's first $match, update/delete's q, findAndModify's query, count's query) */
  shape: string;
  count: number;
  failed: number;
  durationMs: number;
  replyBytes: number;
}

/** One line of the census file. */
export interface CensusWindow {
  instance: string;
  pid: number;
  /** window start and end, ms since the epoch */
  from: number;
  to: number;
  commands: CensusEntry[];
  pool: { created: number; closed: number; checkedOut: number; checkOutFailed: number; cleared: number };
  heartbeats: { succeeded: number; failed: number };
}

/** The client options the census needs (none when it is off). */
export function censusClientOptions(census: CommandCensusOptions | undefined): Pick<MongoClientOptions, 'monitorCommands'> {
  return census ? { monitorCommands: true } : {};
}

type Doc = Record<string, unknown>;
const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
// (the driver hands a find's sort over as a Map)
const keysOf = (v: unknown): string => (v instanceof Map ? [...v.keys()].map(String).sort().join(',') : isDoc(v) ? Object.keys(v).sort().join(',') : '');

/** The collection a command names (its first field's value, or getMore's `collection`). */
function collectionOf(event: CommandStartedEvent): string {
  const c = event.command as Doc;
  if (event.commandName === 'getMore') return typeof c.collection === 'string' ? c.collection : '';
  const v = c[event.commandName];
  return typeof v === 'string' ? v : '';
}

function shapeOf(event: CommandStartedEvent): string {
  const c = event.command as Doc;
  switch (event.commandName) {
    case 'find':
      return keysOf(c.filter) + (c.limit !== undefined ? ' limit' : '') + (isDoc(c.sort) ? ` sort:${keysOf(c.sort)}` : '');
    case 'aggregate': {
      const first = Array.isArray(c.pipeline) ? (c.pipeline[0] as unknown) : undefined;
      return isDoc(first) && isDoc(first.$match) ? keysOf(first.$match) : '';
    }
    case 'update':
    case 'delete': {
      const list = c[event.commandName === 'update' ? 'updates' : 'deletes'];
      const first = Array.isArray(list) ? (list[0] as unknown) : undefined;
      if (!isDoc(first)) return '';
      const ops = event.commandName === 'update' && isDoc(first.u) ? ` u:${keysOf(first.u)}` : '';
      return keysOf(first.q) + ops;
    }
    case 'findAndModify':
    case 'count':
      return keysOf(c.query);
    default:
      return '';
  }
}

/** Attaches the census to a client built with {@link censusClientOptions}; returns its stop (writes the last window). */
export function attachCommandCensus(client: MongoClient, options: CommandCensusOptions): () => void {
  const windowMs = options.windowMs ?? 10_000;
  mkdirSync(options.dir, { recursive: true });
  const file = join(options.dir, `${options.instance.replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}.jsonl`);
  const pending = new Map<number, { key: string; started: number }>();
  let entries = new Map<string, CensusEntry>();
  const fresh = () => ({ pool: { created: 0, closed: 0, checkedOut: 0, checkOutFailed: 0, cleared: 0 }, heartbeats: { succeeded: 0, failed: 0 } });
  let counters = fresh();
  let from = Date.now();

  const flush = () => {
    const to = Date.now();
    const line: CensusWindow = { instance: options.instance, pid: process.pid, from, to, commands: [...entries.values()], ...counters };
    entries = new Map();
    counters = fresh();
    from = to;
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // a diagnostic: never let it fail the process
    }
  };
  const timer = setInterval(flush, windowMs);
  timer.unref();

  const entry = (key: string, command: string, collection: string, shape: string): CensusEntry => {
    let e = entries.get(key);
    if (!e) {
      e = { command, collection, shape, count: 0, failed: 0, durationMs: 0, replyBytes: 0 };
      entries.set(key, e);
    }
    return e;
  };
  const onStarted = (event: CommandStartedEvent) => {
    const collection = collectionOf(event);
    const shape = shapeOf(event);
    const key = `${event.commandName}\u0000${collection}\u0000${shape}`;
    entry(key, event.commandName, collection, shape).count++;
    pending.set(event.requestId, { key, started: Date.now() });
  };
  const onEnded = (event: CommandSucceededEvent | CommandFailedEvent, failed: boolean) => {
    const p = pending.get(event.requestId);
    if (!p) return;
    pending.delete(event.requestId);
    const [command = '', collection = '', shape = ''] = p.key.split('\u0000');
    // A command started in the previous window is accounted in this one (its count stays there).
    const e = entries.get(p.key) ?? entry(p.key, command, collection, shape);
    e.durationMs += event.duration;
    if (failed) e.failed++;
    else if ('reply' in event && isDoc(event.reply)) e.replyBytes += BSON.calculateObjectSize(event.reply);
  };
  const listeners = {
    commandStarted: onStarted,
    commandSucceeded: (e: CommandSucceededEvent) => onEnded(e, false),
    commandFailed: (e: CommandFailedEvent) => onEnded(e, true),
    connectionCreated: () => counters.pool.created++,
    connectionClosed: () => counters.pool.closed++,
    connectionCheckedOut: () => counters.pool.checkedOut++,
    connectionCheckOutFailed: () => counters.pool.checkOutFailed++,
    connectionPoolCleared: () => counters.pool.cleared++,
    serverHeartbeatSucceeded: () => counters.heartbeats.succeeded++,
    serverHeartbeatFailed: () => counters.heartbeats.failed++,
  } as const;
  for (const [name, fn] of Object.entries(listeners)) client.on(name as 'commandStarted', fn as () => void);
  return () => {
    clearInterval(timer);
    for (const [name, fn] of Object.entries(listeners)) client.off(name as 'commandStarted', fn as () => void);
    flush();
  };
}
