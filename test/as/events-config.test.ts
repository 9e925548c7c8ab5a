/**
 * DCR_AS_PROVISIONING=events and DCR_AS_EVENT_GROUPS: validated at start-up with one line naming
 * the variable; the runtime's factory builds the events barrier from them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/load.js';
import { ConfigurationError } from '../../core/domain/errors.js';
import { openAdapters } from '../../platform/runtime/adapters.js';
import { openAuthorizationServer } from '../../platform/runtime/authorization-server.js';
import { createLogger } from '../../platform/runtime/logger.js';
import { OutboundFetcher } from '../../platform/http/outbound-fetcher.js';

const base = { DCR_DATA_DIR: '/tmp/dcr-events-config', DCR_SANDBOX: '1', DCR_AS_PROVISIONING: 'events' };

function refusal(env: Record<string, string>): ConfigurationError {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('DCR_AS_EVENT_GROUPS', () => {
  it('reads the comma list of consumer groups', () => {
    expect(loadConfig({ ...base, DCR_AS_EVENT_GROUPS: 'sandbox-as, bank.gateway_1' }).as).toMatchObject({ provisioning: 'events', eventGroups: ['sandbox-as', 'bank.gateway_1'] });
  });

  it.each([
    [{}, /DCR_AS_EVENT_GROUPS.*required with DCR_AS_PROVISIONING=events/],
    [{ DCR_AS_EVENT_GROUPS: ' , ' }, /DCR_AS_EVENT_GROUPS/],
    [{ DCR_AS_EVENT_GROUPS: 'sandbox-as,bad group' }, /DCR_AS_EVENT_GROUPS/],
  ])('%j is refused naming DCR_AS_EVENT_GROUPS', (env, message) => {
    expect(refusal(env).message).toMatch(message);
  });

  it('the runtime builds the events barrier from them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcr-events-config-'));
    const config = loadConfig({ ...base, DCR_DATA_DIR: dir, DCR_AS_EVENT_GROUPS: 'sandbox-as' });
    const logger = createLogger('test', 'silent');
    const adapters = await openAdapters(config, 'test');
    try {
      const as = await openAuthorizationServer({ config, logger, store: adapters.store, bus: adapters.bus, fetcher: new OutboundFetcher({ allowedHosts: [], connectTimeoutMs: 1000, totalTimeoutMs: 1000, maxBytes: 1024 }) });
      expect(as.name).toBe('events');
      await as.close();
    } finally {
      await adapters.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
