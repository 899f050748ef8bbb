// The Mesh page against a real server: nodes join and report through the agent API with instance
// credentials (mesh-demo.test.helper.ts); one node is then made stale and one dead by ageing when
// the server last heard of them, as minutes of silence would.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../server/src/db/connection.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { axe, cutCells, focused, inPage, sameNamedControls } from './a11y.test.helper.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';
import { joinMesh, seedMesh } from './mesh-demo.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard mesh tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const p50Grid = 'Pair matrix, p50 round trip in ms: rows measure, columns are measured';
const lossGrid = 'Pair matrix, loss: rows measure, columns are measured';

describe.skipIf(!haveChromium)('the Mesh page', () => {
  let server: TestServer;
  let store: Database;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const cell = (from: string, to: string) => page.locator(`[role="gridcell"][data-from="${from}"][data-to="${to}"]`);
  const focusedLabel = () =>
    inPage(page).evaluate((root) => root.ownerDocument.activeElement?.getAttribute('aria-label'));
  const rowNames = (grid: string) =>
    page
      .getByRole('grid', { name: grid })
      .getByRole('rowheader')
      .evaluateAll((hs) => hs.map((h) => h.firstChild?.textContent));
  /** axe, same-named controls and what a phone cuts off, at 1280 and 375 px. */
  async function accessible(state: string): Promise<void> {
    const found: string[] = [];
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 800 });
      await page.waitForTimeout(150);
      for (const v of await axe(page)) found.push(`${state} at ${width} px: ${v}`);
      for (const v of await sameNamedControls(page)) found.push(`${state} at ${width} px: ${v}`);
      if (width === 375) {
        for (const v of await cutCells(page)) found.push(`${state}: ${v}`);
        const wide = await inPage(page).evaluate((r) => r.scrollWidth);
        if (wide > 375) found.push(`${state}: the page is ${wide} px wide`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(found).toEqual([]);
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    server = await startTestServer('sqlite', { rateLimit: '0' });
    store = openDatabase(server.database);
    await call(server.url, adminToken, 'POST', '/api/v1/users', demoUser);
    for (const name of ['production', 'staging']) {
      await call(server.url, adminToken, 'POST', '/api/v1/environments', { name });
    }
    const token = await seedMesh(server.url, adminToken, 'production');
    // Two more nodes that joined and then fell silent: 5 minutes (stale) and 20 minutes (dead).
    await joinMesh(server.url, token, 'eu-5', 7990);
    await joinMesh(server.url, token, 'ap-1', 7991);
    for (const [instance, minutes] of [
      ['eu-5', 5],
      ['ap-1', 20],
    ] as const) {
      await store.db
        .updateTable('mesh_nodes')
        .set({ seen_at: Date.now() - minutes * 60_000 })
        .where('instance_id', '=', instance)
        .execute();
    }
    ({ browser, page } = await openPage(problems));
    await signInAt(page, `${server.url}/mesh`, demoUser, 'Mesh');
  }, 120_000);
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await store?.close();
    await server?.stop();
  });

  it('picks an environment with the mesh on and draws its pair matrix, grouped by partition', async () => {
    const grid = page.getByRole('grid', { name: p50Grid });
    await grid.waitFor();
    expect(await page.getByRole('form', { name: 'Mesh view' }).getByLabel('Environment').inputValue()).toBe(
      'production',
    );
    // Only environments with the mesh on are offered; the others are named as off.
    expect(
      await page
        .getByLabel('Environment')
        .locator('option')
        .evaluateAll((os) => os.map((o) => o.textContent)),
    ).toEqual(['production']);
    await page.getByText('The mesh is off in 1 other environment (staging).').waitFor();
    // Live nodes by partition then name, the stale one after them; the dead one (never measured) is left out.
    expect(await rowNames(p50Grid)).toEqual(['eu-1', 'eu-2', 'eu-3', 'eu-4', 'us-1', 'us-2', 'eu-5']);
    expect(await grid.getByRole('columnheader').count()).toBe(8);
    // The slow link, in ms, with its words for screen readers and as a tooltip.
    expect(await cell('eu-3', 'eu-1').textContent()).toMatch(/^[34]\.\d$/);
    const words = await cell('eu-3', 'eu-1').getAttribute('aria-label');
    expect(words).toMatch(/^eu-3 to eu-1: p50 [34]\.\d ms, p99 \d+ ms, loss 0 % of (840|900) probes$/);
    expect(await cell('eu-3', 'eu-1').getAttribute('title')).toBe(words);
    // Faster links are a lighter step than the slow one; a pair never measured says so.
    const level = async (from: string, to: string) => Number(await cell(from, to).getAttribute('data-level'));
    expect(await level('us-1', 'us-2')).toBeLessThan(await level('eu-3', 'eu-1'));
    expect(await cell('eu-1', 'eu-4').textContent()).toBe('✕');
    expect(await cell('eu-1', 'eu-4').getAttribute('aria-label')).toMatch(/every probe failed, loss 100 %/);
    expect(await cell('us-1', 'eu-1').getAttribute('aria-label')).toBe('us-1 to eu-1: no measurements in the window');
    expect(await cell('eu-1', 'eu-1').getAttribute('aria-label')).toBe('eu-1 to itself: not measured');
    // Colours differ by step, and the legend says what each means.
    const background = (from: string, to: string) =>
      cell(from, to).evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).backgroundColor);
    expect(await background('us-1', 'us-2')).not.toBe(await background('eu-3', 'eu-1'));
    expect(await page.getByRole('list', { name: 'Colours: p50 round trip' }).textContent()).toContain(
      'every probe failed',
    );
  });

  it('colours by loss when toggled, kept in the URL', async () => {
    const before = await cell('eu-2', 'eu-3').getAttribute('class');
    expect(await cell('eu-2', 'eu-3').textContent()).toMatch(/^0\.\d$/);
    await page.getByRole('radio', { name: 'loss' }).click();
    const grid = page.getByRole('grid', { name: lossGrid });
    await grid.waitFor();
    // 15 of 60 probes lost every third minute: 5 of the default window's 15 (14 once a minute has passed).
    expect(await cell('eu-2', 'eu-3').textContent()).toMatch(/^[89]%$/);
    expect(await cell('eu-2', 'eu-3').getAttribute('class')).not.toBe(before);
    expect(await cell('eu-1', 'eu-4').textContent()).toBe('100%');
    expect(await cell('eu-3', 'eu-1').textContent()).toBe('0');
    expect(new URL(page.url()).searchParams.get('colour')).toBe('loss');
    expect(await page.getByRole('list', { name: 'Colours: loss' }).textContent()).toContain('5–20 %');
    await page.getByRole('radio', { name: 'p50 round trip' }).click();
    await page.getByRole('grid', { name: p50Grid }).waitFor();
    expect(await cell('eu-2', 'eu-3').textContent()).toMatch(/^0\.\d$/);
  });

  it("shows a pair's per-minute history on click, and from the keyboard", async () => {
    await cell('eu-3', 'eu-1').click();
    const history = page.getByRole('region', { name: 'History of eu-3 → eu-1' });
    await history.waitFor();
    expect(new URL(page.url()).searchParams.get('from')).toBe('eu-3');
    expect(await cell('eu-3', 'eu-1').getAttribute('aria-selected')).toBe('true');
    // An hour asked for, 30 minutes reported: one unbroken line of 30 points for p50 and for p99.
    const chart = history.getByRole('img', { name: 'p50, p99 and loss of eu-3 → eu-1 per minute' });
    await chart.waitFor();
    const d = await history.locator('path.mesh-p50').getAttribute('d');
    expect(d?.match(/[ML]/g)?.join('')).toBe(`M${'L'.repeat(29)}`);
    expect(await history.locator('path.mesh-p99').getAttribute('d')).toMatch(/^M/);
    expect(await history.locator('dl').textContent()).toContain('0 of 1800 probes in 30 minutes');
    await history.getByRole('button', { name: 'Show the minutes' }).click();
    const minutes = history.getByRole('table', { name: 'Minutes of eu-3 → eu-1' });
    expect(await minutes.locator('tbody tr').count()).toBe(30);
    // The bad minute, ten minutes ago: a p99 five times the others.
    expect(await history.locator('dl').textContent()).toMatch(/Highest p99\s*[45]\d ms/);

    // The lossy pair: loss bars in the bottom band.
    await cell('eu-2', 'eu-3').click();
    const lossy = page.getByRole('region', { name: 'History of eu-2 → eu-3' });
    await lossy.getByRole('img', { name: 'p50, p99 and loss of eu-2 → eu-3 per minute' }).waitFor();
    expect(await lossy.locator('rect.mesh-loss-bar').count()).toBe(10);
    await lossy.getByRole('button', { name: 'Close history' }).click();
    await lossy.waitFor({ state: 'detached' });

    // The keyboard: the selected cell holds focus; arrows move it; Enter opens the pair under it.
    await cell('eu-2', 'eu-3').focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => focused(page)).toMatch(/^DIV /);
    expect(await focusedLabel()).toMatch(/^eu-3 to eu-2: /);
    expect(await page.locator('[role="gridcell"][tabindex="0"]').count()).toBe(1);
    await page.keyboard.press('Enter');
    await page.getByRole('region', { name: 'History of eu-3 → eu-2' }).waitFor();
    await page.keyboard.press('End');
    expect(await focusedLabel()).toMatch(/^eu-3 to eu-5: /);
    await page.keyboard.press('Space');
    await page
      .getByRole('region', { name: 'History of eu-3 → eu-5' })
      .getByText(/No request summaries/)
      .waitFor();
    await accessible('mesh with a pair history');
  });

  it('shows partitions, the flagged node, node states and event-loop lag', async () => {
    const partitions = page.getByRole('region', { name: 'The mesh is split into 2 partitions' });
    await partitions.waitFor();
    expect(await partitions.locator('li').allTextContents()).toEqual([
      'Partition 1 (4 nodes): eu-1, eu-2, eu-3, eu-4',
      'Partition 2 (2 nodes): us-1, us-2',
    ]);
    const flagged = page.getByRole('region', { name: '1 node looks unreachable' });
    expect(await flagged.textContent()).toContain('eu-4: unreachable from 3 of 3 peers');
    const nodes = page.getByRole('table', { name: 'Mesh nodes' });
    const row = (n: string) => nodes.locator(`tr[data-node="${n}"]`);
    expect(await row('eu-4').locator('.badge').allTextContents()).toEqual(['alive', 'flagged']);
    expect(await row('eu-5').getAttribute('data-state')).toBe('stale');
    expect(await row('ap-1').getAttribute('data-state')).toBe('dead');
    expect(await row('us-1').textContent()).toContain('partition 2');
    expect(await row('us-2').locator('.bad').textContent()).toBe('p50 2.0 ms, p99 45 ms, max 120 ms');
    expect(await row('ap-1').textContent()).toContain('not reported');
    // Alive, stale, dead, flagged, partitions.
    expect(await page.locator('dl[aria-label="Mesh summary"] dd').allTextContents()).toEqual(['6', '1', '1', '1', '2']);
    // The slowest pairs, listed in words too.
    const slowest = page.getByRole('table', { name: 'Slowest pairs' });
    expect(await slowest.locator('tbody tr').first().textContent()).toContain('every probe failed');
  });

  it('asks for a limit and says when the matrix was cut', async () => {
    await page.goto(`${server.url}/mesh?env=production&limit=3`);
    await page.getByRole('grid', { name: p50Grid }).waitFor();
    await page.getByText(/^The matrix was cut to the 3 slowest pairs \(the page asked for at most 3;/).waitFor();
    await page.goto(`${server.url}/mesh?env=production`);
    await page.getByRole('grid', { name: p50Grid }).waitFor();
    expect(await page.getByText(/The matrix was cut/).count()).toBe(0);
  });

  it('says how to switch the mesh on where it is off', async () => {
    await page.goto(`${server.url}/mesh?env=staging`);
    const off = page.getByRole('region', { name: 'The mesh is off in staging' });
    await off.waitFor();
    expect(await off.locator('pre').textContent()).toContain('/api/v1/mesh/environments/staging');
    expect(await off.locator('pre').textContent()).toContain('{"enabled": true}');
    await accessible('mesh off');
    await page.goto(`${server.url}/mesh?env=production&colour=loss`);
    await page.getByRole('grid', { name: lossGrid }).waitFor();
    await accessible('mesh by loss');
  });

  it('says so when the mesh is on nowhere', async () => {
    await call(server.url, adminToken, 'PUT', '/api/v1/mesh/environments/production', { enabled: false });
    try {
      await page.goto(`${server.url}/mesh`);
      const off = page.getByRole('region', { name: 'The mesh is off everywhere' });
      await off.waitFor();
      expect(await off.textContent()).toContain('No environment runs the mesh yet.');
      expect(await off.locator('pre').textContent()).toMatch(/\/api\/v1\/mesh\/environments\/(production|staging)$/);
      expect(await page.getByRole('grid').count()).toBe(0);
    } finally {
      await call(server.url, adminToken, 'PUT', '/api/v1/mesh/environments/production', { enabled: true });
    }
  });
});
