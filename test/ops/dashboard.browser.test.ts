import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../shared/domain/registration.js';
import { startOps, type RunningOps } from '../../services/ops/service.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The dashboard in a real browser (Debian chromium driven by playwright-core). Skipped locally
 * without chromium; in CI (.ci/run installs it) a missing browser fails the run.
 */
describe.skipIf(!hasChromium && !process.env.CI)('ops dashboard in a browser', () => {
  let pipeline: TestPipeline;
  let ops: RunningOps;
  let browser: Browser;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { DCR_ADMIN_PORT: '0' } });
    ops = await startOps(pipeline.rt, { announce: () => {} });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await ops?.stop();
    await pipeline?.stop();
  });

  it('shows counts and the failed list, a timeline, and replays a failure with one click', async () => {
    const store = pipeline.rt.adapters.store;
    const tpp = await pipeline.createTpp();
    await pipeline.directory.setOutage(true);
    const res = await tpp.post(await tpp.sign(tpp.claims()), { prefer: 'respond-async' });
    const id = res.json<{ request_id: string }>().request_id;
    await poll('the registration to fail', async () => ((await store.getRegistration(id))?.status === 'failed' ? true : undefined));

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());

    // Without a token: the login form, and no data.
    await page.goto(`${ops.url}/admin/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#app').isHidden()).toBe(true);

    // The token from the fragment: it is kept in sessionStorage and removed from the address bar.
    await page.goto(`${ops.url}/admin/#token=${ops.token.token}`);
    await page.locator('.card.failed b').waitFor();
    expect(page.url()).not.toContain('token=');
    expect(await page.locator('.card.failed b').textContent()).toBe('1');
    const row = page.locator(`tr.row[data-id="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('directory_unreachable');

    await row.click();
    await page.locator('#detail').waitFor({ state: 'visible' });
    expect(await page.locator('#detail-id').textContent()).toBe(id);
    const timeline = await page.locator('#timeline').textContent();
    expect(timeline).toContain('attempt_failed');
    expect(timeline).toContain('failed');

    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: join('test-output', 'ops-dashboard-failed.png'), fullPage: true });

    await pipeline.directory.setOutage(false);
    await row.locator('button.replay').click();
    await page.locator(`tr.row[data-id="${id}"] button.replay`, { hasText: 'Replayed' }).waitFor();
    const done = await poll('the replayed registration to be registered', async () => {
      const r = await store.getRegistration(id);
      return r?.status === 'registered' ? r : undefined;
    });
    expect((done as Registration).history.find((h) => h.event === 'replayed')?.actor).toBe('dashboard');

    // The list and counts follow: nothing failed any more.
    await page.selectOption('#status-filter', 'registered');
    await page.locator(`tr.row[data-id="${id}"]`).waitFor();
    await page.locator('.card.failed b', { hasText: '0' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join('test-output', 'ops-dashboard-replayed.png'), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
  });
});
