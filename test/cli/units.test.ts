import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDataDir } from '../../sandbox/cli/data-dir.js';
import { CliError } from '../../sandbox/cli/exit.js';
import { parseMilliseconds, parseRoles } from '../../sandbox/cli/options.js';
import { useColour } from '../../sandbox/cli/ui.js';
import { defaultLogFormat } from '../../platform/runtime/logger.js';
import { eventLine } from '../../sandbox/standalone/event-lines.js';
import { sandboxStateLines } from '../../sandbox/standalone/sandbox-notices.js';
import type { DeliveredEvent } from '../../core/ports/events.js';

describe('the CLI finds its data directory like git finds .git', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dcr-find-'));
    await mkdir(join(root, 'checkout', 'a', 'b'), { recursive: true });
    await writeFile(join(root, 'checkout', 'package.json'), JSON.stringify({ name: 'dcr-pipeline' }));
    await mkdir(join(root, 'other', 'var', 'sandbox'), { recursive: true });
    await mkdir(join(root, 'other', 'x'), { recursive: true });
    await mkdir(join(root, 'stranger'), { recursive: true });
    await writeFile(join(root, 'stranger', 'package.json'), JSON.stringify({ name: 'dcr' }));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('DCR_DATA_DIR wins, resolved against the working directory', () => {
    expect(findDataDir({ DCR_DATA_DIR: 'data' }, join(root, 'stranger'))).toBe(join(root, 'stranger', 'data'));
  });
  it('the checkout (package.json named dcr-pipeline) from any subdirectory', () => {
    expect(findDataDir({}, join(root, 'checkout', 'a', 'b'))).toBe(join(root, 'checkout', 'var'));
  });
  it('a directory that holds a sandbox already', () => {
    expect(findDataDir({}, join(root, 'other', 'x'))).toBe(join(root, 'other', 'var'));
  });
  it('refuses anywhere else (another package is not the checkout)', () => {
    expect(() => findDataDir({}, join(root, 'stranger'))).toThrow(CliError);
    expect(() => findDataDir({}, join(root, 'stranger'))).toThrow(/no DCR data directory found from .*stranger upwards/);
  });
});

describe('CLI option values', () => {
  it('--roles: known roles only', () => {
    expect(parseRoles('AISP,PISP')).toEqual(['AISP', 'PISP']);
    expect(() => parseRoles('FOO')).toThrow("unknown role 'FOO'");
    expect(() => parseRoles('AISP,,PISP')).toThrow('comma-separated');
    expect(() => parseRoles('AISP,AISP')).toThrow('twice');
  });
  it('--timeout: whole milliseconds', () => {
    expect(parseMilliseconds('30000')).toBe(30000);
    for (const bad of ['abc', '0', '-5', '1.5', '1e3', '']) expect(() => parseMilliseconds(bad)).toThrow(`got '${bad}'`);
  });
});

describe('colour and log format', () => {
  const tty = { isTTY: true } as NodeJS.WriteStream;
  const pipe = { isTTY: false } as NodeJS.WriteStream;
  it('CLI colour only on a terminal, never with NO_COLOR or TERM=dumb', () => {
    expect(useColour(tty, {})).toBe(true);
    expect(useColour(pipe, {})).toBe(false);
    expect(useColour(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColour(tty, { TERM: 'dumb' })).toBe(false);
  });
  it('npm start: pretty on a terminal, JSON otherwise; services JSON; DCR_LOG_FORMAT wins', () => {
    expect(defaultLogFormat(undefined, true, { isTTY: true })).toBe('pretty');
    expect(defaultLogFormat(undefined, true, { isTTY: false })).toBe('json');
    expect(defaultLogFormat(undefined, false, { isTTY: true })).toBe('json');
    expect(defaultLogFormat('json', true, { isTTY: true })).toBe('json');
    expect(defaultLogFormat('pretty', false, { isTTY: false })).toBe('pretty');
  });
});

describe('npm start lines', () => {
  const event = (type: string, subject: string, data: Record<string, unknown>): DeliveredEvent => ({
    specversion: '1.0',
    id: 'e1',
    type,
    source: '/dcr',
    subject,
    time: '2026-12-01T00:00:00Z',
    datacontenttype: 'application/json',
    data,
    topic: type.startsWith('dcr.client') ? 'dcr.client.v1' : 'dcr.registration.v1',
  });
  it('one line per event, saying the outcome', () => {
    expect(eventLine(event('dcr.client.created', 'C1', { client_id: 'C1', software_id: 'S1', org_id: 'O1' })).msg).toBe('event dcr.client.created C1 (id e1): registered, software S1 of org O1');
    expect(eventLine(event('dcr.registration.rejected', 'R1', { stage: 'verify', error: 'invalid_software_statement', error_description: 'bad' })).msg).toBe(
      'event dcr.registration.rejected R1 (id e1): rejected in verify: invalid_software_statement: bad',
    );
    expect(eventLine(event('dcr.registration.failed', 'R2', { stage: 'revocation', error: 'server_error' })).msg).toBe(
      'event dcr.registration.failed R2 (id e1): failed in revocation (replay: dcr-pipeline ops replay R2)',
    );
    expect(eventLine(event('dcr.registration.received', 'R3', { request_id: 'R3' }))).toEqual({ msg: 'event dcr.registration.received R3 (id e1)', fields: { eventId: 'e1', type: 'dcr.registration.received', subject: 'R3', request_id: 'R3' } });
  });
  it('the banner says nothing when the sandbox is normal, and names an outage and each revocation', () => {
    expect(sandboxStateLines({ outage: false, revoked: [] })).toEqual([]);
    const lines = sandboxStateLines({ outage: true, revoked: [{ tpp: 'acme', what: ['organisation', 'signing key'] }] });
    expect(lines.join('\n')).toContain('sandbox outage is ON');
    expect(lines.at(-1)).toBe('  ! sandbox TPP acme: revoked organisation, signing key (its registrations are rejected)');
  });
});
