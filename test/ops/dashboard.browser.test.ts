import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../core/domain/registration.js';
import { httpsRequest } from '../../sandbox/tpp-client/https-client.js';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startTestPipeline, type TestPipeline, type TestTpp } from '../support/pipeline.js';
import { aRegistration } from '../support/registration.js';
import { poll } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const OUT = 'test-output';

/**
 * The dashboard in a real browser (Debian chromium driven by playwright-core): every view, each
 * written to test-output/ as a screenshot. Skipped locally without chromium; in CI (.ci/run
 * installs it) a missing browser fails the run.
 */
describe.skipIf(!hasChromium && !process.env.CI)('ops dashboard in a browser', () => {
  let pipeline: TestPipeline;
  let ops: RunningOps;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const ids = { deleted: '', active: '', rejected: '', failed: '' };
  let acme: TestTpp;
  let deletedClient = '';

  const shot = (name: string) => page.screenshot({ path: join(OUT, `ops-dashboard-${name}.png`), fullPage: true });
  const rowIds = () => page.locator('#list tbody tr.row').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id') ?? ''));
  const status = async (id: string) => (await pipeline.rt.adapters.store.getRegistration(id))?.status;

  beforeAll(async () => {
    await mkdir(OUT, { recursive: true });
    pipeline = await startTestPipeline({ env: { DCR_ADMIN_PORT: '0' } });
    ops = await startOps(pipeline.rt, { announce: () => {} });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await ops?.stop();
    await pipeline?.stop();
  });

  it('asks for the token, then says so when there is nothing yet', async () => {
    await page.goto(`${ops.url}/admin/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isHidden()).toBe(true);
    await shot('login');

    // The token from the fragment: kept in sessionStorage and removed from the address bar.
    await page.goto(`${ops.url}/admin/#token=${ops.token.token}`);
    await page.locator('#list-empty', { hasText: 'No registrations yet' }).waitFor();
    expect(page.url()).not.toContain('token=');
    expect(await page.locator('#list tbody tr').count()).toBe(0);
    await page.selectOption('#status-filter', 'failed');
    await page.locator('#list-empty', { hasText: 'No failed registrations match these filters. Nothing to replay.' }).waitFor();
    await shot('empty');
    await page.locator('nav .tab[data-view="clients"]').click();
    await page.locator('#clients-empty', { hasText: 'No clients yet' }).waitFor();
    await page.locator('nav .tab[data-view="registrations"]').click();
    await page.selectOption('#status-filter', '');
  });

  it('lists registrations with TPP, software, client and stage, refreshing as they happen', async () => {
    acme = await pipeline.createTpp('acme');
    const globex = await pipeline.createTpp('globex');
    const initech = await pipeline.createTpp('initech');
    const store = pipeline.rt.adapters.store;

    const first = await acme.post(await acme.sign(acme.claims()));
    expect(first.status, first.text).toBe(201);
    const created = first.json<{ client_id: string; registration_access_token: string }>();
    deletedClient = created.client_id;
    ids.deleted = String((await store.getClient(deletedClient))?.requestId);
    const second = await acme.post(await acme.sign(acme.claims()));
    expect(second.status, second.text).toBe(201);
    ids.active = String((await store.getClient(second.json<{ client_id: string }>().client_id))?.requestId);
    ids.rejected = (await globex.post(await globex.sign(globex.claims({ aud: 'https://other-bank.example' })), { prefer: 'respond-async' })).json<{ request_id: string }>().request_id;
    await poll('the rejection', async () => ((await status(ids.rejected)) === 'rejected' ? true : undefined));
    // RFC 7592 §2.3: acme deletes its first client (before the directory outage below: management
    // asks the directory about the presented certificate, and fails closed while it cannot).
    const del = await httpsRequest(`${pipeline.intakeUrl}/register/${encodeURIComponent(deletedClient)}`, {
      method: 'DELETE',
      identity: acme.identity,
      headers: { authorization: `Bearer ${created.registration_access_token}` },
    });
    expect(del.status, del.text).toBe(204);
    await pipeline.directory.setOutage(true);
    ids.failed = (await initech.post(await initech.sign(initech.claims()), { prefer: 'respond-async' })).json<{ request_id: string }>().request_id;
    await poll('the failure', async () => ((await status(ids.failed)) === 'failed' ? true : undefined));

    // No reload: the list refreshes itself.
    const failedRow = page.locator(`tr.row[data-id="${ids.failed}"]`);
    await failedRow.waitFor({ timeout: 15_000 });
    await page.locator(`tr.row[data-id="${ids.deleted}"] td.status`, { hasText: 'client deleted' }).waitFor({ timeout: 15_000 });
    expect(await rowIds()).toEqual([ids.failed, ids.rejected, ids.active, ids.deleted]);
    await page.locator('.card.failed b', { hasText: '1' }).waitFor();

    const cells = async (id: string) => page.locator(`tr.row[data-id="${id}"] td`).allTextContents();
    const deletedRow = await cells(ids.deleted);
    expect(deletedRow[1]).toContain(acme.sandbox.orgId);
    expect(deletedRow[2]).toBe(acme.sandbox.softwareId);
    expect(deletedRow[3]).toBe(deletedClient);
    expect(deletedRow[4]).toBe('client deleted');
    expect((await cells(ids.active))[4]).toBe('registered');
    const rejectedRow = await cells(ids.rejected);
    expect(rejectedRow.slice(4, 6)).toEqual(['rejected', 'verify']);
    expect(rejectedRow[6]).toBeTruthy();
    const failedCells = await cells(ids.failed);
    expect(failedCells.slice(4, 6)).toEqual(['failed', 'verify']);
    expect(failedCells[6]).toContain('directory_unreachable');
    // Human times, the exact time in the tooltip.
    expect(failedCells[7]).toMatch(/^\d+ s ago$/);
    expect(await page.locator(`tr.row[data-id="${ids.failed}"] td.time`).first().getAttribute('title')).toContain('Z)');
    expect(await page.locator('#list th[aria-sort="descending"]').textContent()).toBe('submitted');
    await shot('registrations');

    // Sort by what is shown: submitted ascending, then by status.
    await page.locator('#list th[data-sort="submitted_at"]').click();
    expect(await rowIds()).toEqual([ids.deleted, ids.active, ids.rejected, ids.failed]);
    await page.locator('#list th[data-sort="status"]').click();
    expect(await rowIds()).toEqual([ids.deleted, ids.failed, ids.active, ids.rejected]);
    // A time column sorts newest first on its first click.
    await page.locator('#list th[data-sort="submitted_at"]').click();
    expect(await rowIds()).toEqual([ids.failed, ids.rejected, ids.active, ids.deleted]);
  });

  it('searches by request, client, software and organisation id, and filters by status, time and error', async () => {
    const search = async (text: string) => {
      await page.fill('#search', text);
      await page.locator('#filters button[type="submit"]').click();
    };
    const expectRows = async (expected: string[]) => {
      await poll(`rows ${expected.join(',')}`, async () => (JSON.stringify(await rowIds()) === JSON.stringify(expected) ? true : undefined), 10_000);
    };
    await search(acme.sandbox.softwareId);
    await expectRows([ids.active, ids.deleted]);
    await search(deletedClient);
    await expectRows([ids.deleted]);
    await search(ids.failed);
    await expectRows([ids.failed]);
    await search(acme.sandbox.orgId);
    await expectRows([ids.active, ids.deleted]);
    await shot('search');
    await search('');

    await page.fill('#error-filter', 'directory_unreachable');
    await page.locator('#filters button[type="submit"]').click();
    await expectRows([ids.failed]);
    await page.fill('#error-filter', '');
    await page.selectOption('#status-filter', 'rejected');
    await expectRows([ids.rejected]);
    await page.selectOption('#status-filter', '');
    await page.selectOption('#range', '1h');
    await expectRows([ids.failed, ids.rejected, ids.active, ids.deleted]);
    await page.selectOption('#range', 'custom');
    await page.fill('#until', '2020-01-01T00:00:00');
    await page.locator('#filters button[type="submit"]').click();
    await page.locator('#list-empty', { hasText: 'No registrations match these filters.' }).waitFor();
    await page.locator('#clear-filters').click();
    await expectRows([ids.failed, ids.rejected, ids.active, ids.deleted]);
  });

  it('shows a timeline that refreshes, and replays a failure with one click', async () => {
    const row = page.locator(`tr.row[data-id="${ids.failed}"]`);
    await row.click();
    await page.locator('#detail').waitFor({ state: 'visible' });
    expect(await page.locator('#detail-id').textContent()).toBe(ids.failed);
    const timeline = await page.locator('#timeline').textContent();
    expect(timeline).toContain('attempt_failed');
    expect(timeline).toContain('→ failed');
    expect(await page.locator('#detail-facts').textContent()).toContain('verify 3 attempts');
    await shot('detail');

    await pipeline.directory.setOutage(false);
    await row.locator('button.replay').click();
    await page.locator('#action-result', { hasText: `Replayed ${ids.failed} from verify.` }).waitFor();
    const done = await poll('the replayed registration to be registered', async () => {
      const r = await pipeline.rt.adapters.store.getRegistration(ids.failed);
      return r?.status === 'registered' ? r : undefined;
    });
    expect((done as Registration).history.find((h) => h.event === 'replayed')?.actor).toBe('dashboard');
    // The detail and the row follow without a click.
    await page.locator('#timeline li', { hasText: 'provisioning → registered' }).waitFor({ timeout: 15_000 });
    await page.locator(`tr.row[data-id="${ids.failed}"] td.status`, { hasText: 'registered' }).waitFor({ timeout: 15_000 });
    await page.locator('.card.failed b', { hasText: '0' }).waitFor({ timeout: 15_000 });
    await shot('replayed');
  });

  it('lists clients, deleted ones as deleted, with links to their registrations', async () => {
    await page.locator('nav .tab[data-view="clients"]').click();
    await page.locator(`#clients tr.client-row[data-id="${deletedClient}"]`).waitFor();
    const statuses = await page.locator('#clients tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
    expect(statuses).toEqual(['active', 'active', 'deleted']);
    const cells = await page.locator(`#clients tr.client-row[data-id="${deletedClient}"] td`).allTextContents();
    expect(cells[0]).toBe(deletedClient);
    expect(cells[2]).toContain(acme.sandbox.orgId);
    expect(cells[3]).toBe(acme.sandbox.softwareId);
    expect(cells[4]).toBe('deleted');
    await shot('clients');

    await page.selectOption('#client-status', 'deleted');
    await page.locator('#clients tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await page.locator('#clients tbody tr').count()).toBe(1);

    await page.locator(`#clients tr.client-row[data-id="${deletedClient}"] a.all-requests`).click();
    await page.locator('#view-registrations').waitFor({ state: 'visible' });
    expect(await page.inputValue('#search')).toBe(deletedClient);
    await poll('the client\'s registrations', async () => (JSON.stringify(await rowIds()) === JSON.stringify([ids.deleted]) ? true : undefined), 10_000);
    await page.locator('#clear-filters').click();
  });

  it('charts outcomes over time, stage latency and queue depth with the bundled library', async () => {
    await page.locator('nav .tab[data-view="charts"]').click();
    for (const id of ['chart-outcomes', 'chart-latency', 'chart-queue']) await page.locator(`#${id} .uplot canvas`).waitFor();
    expect(await page.locator('#chart-outcomes .u-legend').textContent()).toMatch(/registered.*rejected.*failed/);
    expect(await page.locator('#chart-latency .u-legend').textContent()).toContain('verify p99');
    expect(await page.locator('#chart-note').textContent()).toContain('4 registrations read');
    await shot('charts');
    await page.selectOption('#chart-window', '7d');
    await page.locator('#chart-note', { hasText: 'buckets of 6 h' }).waitFor();
    expect(errors, errors.join('\n')).toEqual([]);
  });

  it('shows markup in stored text as text (errors and identities come from TPPs)', async () => {
    const markup = '<img src=x onerror="document.title=\'pwned\'">';
    const at = new Date().toISOString();
    await pipeline.rt.adapters.store.insertRegistration(
      aRegistration('xss-1', {
        status: 'failed',
        failedStage: 'verify',
        lastError: markup,
        certificate: { pem: '', thumbprint: 't', subjectDn: 'CN=x', issuerDn: 'CN=ca', serialNumber: '01', tppIdentity: markup },
        history: [{ at, event: 'transition', stage: 'verify', from: 'verifying', to: 'failed', error: markup }],
      }),
      [],
    );
    await page.locator('nav .tab[data-view="registrations"]').click();
    const row = page.locator('tr.row[data-id="xss-1"]');
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await page.locator('#timeline li', { hasText: 'onerror' }).waitFor();
    expect(await row.locator('td.err').textContent()).toBe(markup);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.title()).toBe('DCR pipeline operations');
    const res = await fetch(`${ops.url}/admin/`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(errors, errors.join('\n')).toEqual([]);
  });
});
