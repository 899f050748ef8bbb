import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../../server/src/drift/upstreams/fake-upstream.test-support.ts';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { axe, contrast, cutCells, focused, inPage, overflowing, sameNamedControls } from './a11y.test.helper.ts';
import { chromiumPath, haveChromium, openPage } from './browser.test.helper.ts';
import { demoAgentToken, demoServerOptions, demoUser, seedDemo, seedOperations } from './demo-data.test.helper.ts';
import {
  driftServerOptions,
  seedDrift,
  startDriftUpstreams,
  waitForDriftComparison,
} from './drift-demo.test.helper.ts';
import { seedMesh } from './mesh-demo.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard accessibility tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const widths = [1280, 375] as const;
describe.skipIf(!haveChromium)('every page state is accessible at 1280 and 375 px', () => {
  let server: TestServer;
  let upstreams: FakeUpstream;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  /** Runs axe at both widths, and at phone width checks nothing is wider than the screen. */
  async function check(state: string): Promise<void> {
    const found: string[] = [];
    for (const width of widths) {
      await page.setViewportSize({ width, height: width === 375 ? 740 : 800 });
      // Let layout, charts and resize observers settle after the width change.
      await page.waitForTimeout(150);
      for (const v of await axe(page)) found.push(`${state} at ${width} px: ${v}`);
      for (const v of await sameNamedControls(page)) found.push(`${state} at ${width} px: ${v}`);
      if (width === 375) {
        for (const v of await cutCells(page)) found.push(`${state} at 375 px: ${v}`);
        const wide = await inPage(page).evaluate((root) => root.scrollWidth);
        if (wide > 375) found.push(`${state} at 375 px: the page is ${wide} px wide (${await overflowing(page)})`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    expect.soft(found).toEqual([]);
  }

  /** Follows a menu link: the page gets its own title, and focus lands on its heading. */
  async function navigate(label: string, heading: string, title = heading): Promise<void> {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { name: heading, exact: true, level: 2 }).waitFor();
    await expect.poll(() => page.title()).toBe(`${title} · Flotilla`);
    await expect.poll(() => focused(page)).toBe(`H2 ${heading}`);
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-a11y-');
    upstreams = await startDriftUpstreams();
    server = await startTestServer('sqlite', { ...demoServerOptions(dir), ...driftServerOptions(upstreams) }, { dir });
    ({ browser, page } = await openPage(problems));
  }, 120_000);
  // Console and page errors fail the state they happened in.
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await upstreams?.stop();
  });

  it('setup and sign-in', async () => {
    // No user yet: the first visit offers setup.
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Create the first admin' }).waitFor();
    await check('setup');
    await seedDemo(server.url, adminToken, { full: true });
    await seedOperations(server.url, adminToken);
    await page.goto(`${server.url}/usage`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.title()).toBe('Sign in · Flotilla');
    await check('sign-in');
    await page.getByLabel('User name').fill(demoUser.name);
    await page.getByLabel('Password').fill(demoUser.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    await expect.poll(() => page.title()).toBe('Usage · Flotilla');
  }, 120_000);

  it('Usage', { timeout: 60_000 }, async () => {
    await page.getByRole('table', { name: 'Instances by app version' }).waitFor();
    await page.locator('.recharts-surface').first().waitFor();
    await check('usage');
  });

  it('shows keyboard focus at 3:1 or more on the dark header and the light page alike', async () => {
    await page.locator('main').click({ position: { x: 1, y: 1 } });
    await page.keyboard.press('Shift+Tab');
    const ring = await inPage(page).evaluate((root) => {
      const el = root.ownerDocument.activeElement;
      const styleOf = (e: typeof root) => root.ownerDocument.defaultView.getComputedStyle(e);
      return {
        text: el.textContent,
        visible: el.matches(':focus-visible') && styleOf(el).outlineStyle !== 'none',
        color: styleOf(el).outlineColor,
        header: styleOf(el.closest('header')).backgroundColor,
        page: styleOf(root).backgroundColor,
        card: styleOf(root.querySelector('table')).backgroundColor,
      };
    });
    expect(ring).toMatchObject({ text: 'Sign out', visible: true });
    for (const background of [ring.header, ring.page, ring.card]) {
      expect(contrast(ring.color, background)).toBeGreaterThanOrEqual(3);
    }
  });

  it('Releases and a version', { timeout: 60_000 }, async () => {
    await navigate('Releases', 'Releases');
    await page.getByRole('table', { name: 'Versions of api' }).waitFor();
    await check('releases');
    await page.getByRole('button', { name: 'web', exact: true }).click();
    await page.getByRole('table', { name: 'Versions of web' }).getByRole('button', { name: '1.0.0' }).click();
    await page.getByTestId('install-manifest').waitFor();
    await check('release detail');
  });

  it('Desired versions, an old revision and the editor', { timeout: 60_000 }, async () => {
    await navigate('Desired versions', 'Desired versions');
    await page.getByRole('combobox', { name: 'Environment', exact: true }).selectOption('staging');
    const history = page.getByRole('table', { name: 'Revision history' });
    await history.waitFor();
    await check('desired');
    await history.getByRole('button', { name: 'Show revision 1' }).click();
    await page.getByRole('table', { name: 'Desired versions at revision 1' }).waitFor();
    await check('desired, old revision');
    await page.getByRole('button', { name: 'Roll back to revision 1…' }).click();
    await page.getByRole('form', { name: 'Roll back staging to revision 1' }).waitFor();
    await check('desired, roll back confirmation');
    // History is newest first.
    await history
      .getByRole('button', { name: /^Show revision/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Edit versions' }).click();
    await check('desired editor');
    // Production, halfway through its rollout.
    await page.getByRole('combobox', { name: 'Environment', exact: true }).selectOption('production');
    await page.getByRole('table', { name: 'Revision history' }).waitFor();
    await check('desired, production during a rollout');
  });

  it('Rollouts and the start form', { timeout: 60_000 }, async () => {
    await navigate('Rollouts', 'Rollouts');
    await page.getByRole('combobox', { name: 'Environment', exact: true }).selectOption('production');
    await page
      .getByRole('region', { name: /Rollout to revision/ })
      .first()
      .waitFor();
    await check('rollouts');
    // Production's rollout runs, so a new one starts in staging.
    await page.getByRole('combobox', { name: 'Environment', exact: true }).selectOption('staging');
    await page.getByText('Start a rollout', { exact: true }).click();
    await page.getByRole('form', { name: 'Start a rollout' }).waitFor();
    await check('rollout start form');
  });

  it('Fleet and an instance, every column on a phone', { timeout: 60_000 }, async () => {
    await navigate('Fleet', 'Fleet');
    const web = page.getByRole('table', { name: 'Instances of staging / web' });
    await web.waitFor();
    await check('fleet');
    // On a phone, each row is a card: its key cells (those not hidden on narrow screens by design)
    // are shown whole within the screen, named by their column.
    await page.setViewportSize({ width: 375, height: 740 });
    const cells = await web
      .locator('tbody tr')
      .first()
      .evaluate((tr) =>
        ([...tr.querySelectorAll('th, td')] as (typeof tr)[])
          .filter((c) => !c.classList.contains('hide-narrow'))
          .map((c) => ({
            label: c.dataset.label,
            shown: c.checkVisibility() && c.getBoundingClientRect().right <= 375 && c.scrollWidth <= c.clientWidth,
          })),
      );
    expect(cells).toEqual(['Instance', 'Verdict', 'Runs', 'Reason'].map((label) => ({ label, shown: true })));
    const card = await web.locator('tbody tr').first().boundingBox();
    expect(card?.width).toBeLessThanOrEqual(375);
    await page.setViewportSize({ width: 1280, height: 800 });
    await web.getByRole('link', { name: 'stg-3' }).click();
    await page.getByRole('heading', { name: 'Instance stg-3' }).waitFor();
    await expect.poll(() => page.title()).toBe('Instance stg-3 · Flotilla');
    // A link inside a page moves focus to the next page's heading too.
    await expect.poll(() => focused(page)).toBe('H2 Instance stg-3');
    await page.getByRole('table', { name: 'Services of stg-3' }).waitFor();
    await check('instance');
  });

  it('Logs', { timeout: 60_000 }, async () => {
    await navigate('Logs', 'Logs');
    await page
      .getByRole('list', { name: /Log lines/ })
      .locator('li')
      .first()
      .waitFor();
    await check('logs');
  });

  it('Faults, a crash loop and a fault', { timeout: 60_000 }, async () => {
    // Three more exits of web on stg-3, seconds apart: one crash loop with the seeded one.
    // As stg-3 itself: the instance the seed enrolled with staging's agent token.
    const token = await agentCredentialFor(server.url, demoAgentToken(server.url, 'staging'), 'stg-3');
    for (const seconds of [15, 10, 5]) {
      const archive = await makeFaultArchive({
        meta: faultMeta({
          instanceId: 'stg-3',
          service: 'web',
          version: '1.1.0',
          time: new Date(Date.now() - seconds * 1000).toISOString(),
          exitCode: 2,
        }),
        logTail: 'starting web 1.1.0 on :8080\npanic: assignment to entry in nil map\n',
      });
      const res = await fetch(`${server.url}/api/v1/agent/faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
        body: readFileSync(archive),
      });
      expect(res.status).toBeLessThan(300);
    }
    await navigate('Faults', 'Faults');
    const table = page.getByRole('table', { name: 'Fault reports' });
    await table.locator('tbody tr').first().waitFor();
    await check('faults');
    await table.getByRole('button', { name: /^Show all/ }).click();
    await table.getByRole('button', { name: /^Hide all/ }).waitFor();
    await check('faults, a crash loop opened');
    await table.locator('tbody tr').first().getByRole('link').first().click();
    await page.getByRole('heading', { name: 'Fault of web on stg-3' }).waitFor();
    await page.getByTestId('log-tail').waitFor();
    await check('fault');
    await page.getByRole('link', { name: /^Logs of web on stg-3 around/ }).click();
    await page.getByRole('heading', { name: 'Logs', exact: true }).waitFor();
    await page
      .getByRole('list', { name: /Log lines/ })
      .locator('li')
      .first()
      .waitFor();
    await check("logs around a fault's time");
  });

  it('Drift, a subject and the upstreams', { timeout: 60_000 }, async () => {
    await seedDrift(server.url, adminToken);
    await waitForDriftComparison(server.url, adminToken);
    await navigate('Drift', 'Drift');
    const subjects = page.getByRole('table', { name: 'Subjects on production / prod-eu' });
    await subjects.waitFor();
    await check('drift');
    await subjects.getByRole('link', { name: 'coredns' }).click();
    await page.getByRole('table', { name: 'Releases newer than 1.7.0' }).waitFor();
    await check('drift subject');
    await page.getByRole('link', { name: '← Drift' }).click();
    await page.getByRole('navigation', { name: 'Drift sections' }).getByRole('link', { name: 'Upstreams' }).click();
    await page.getByRole('table', { name: 'Upstream fetch status' }).waitFor();
    await check('drift upstreams');
  });

  it('Mesh, a pair history and the loss colours', { timeout: 60_000 }, async () => {
    await seedMesh(server.url, adminToken, 'production');
    await navigate('Mesh', 'Mesh');
    const grid = page.getByRole('grid', { name: /^Pair matrix, p50/ });
    await grid.waitFor();
    await check('mesh');
    await page.locator('[role="gridcell"][data-from="eu-3"][data-to="eu-1"]').click();
    await page.getByRole('img', { name: 'p50, p99 and loss of eu-3 → eu-1 per minute' }).waitFor();
    await page.getByRole('button', { name: 'Show the minutes' }).click();
    await page.getByRole('table', { name: 'Minutes of eu-3 → eu-1' }).waitFor();
    await check('mesh, a pair history');
    await page.getByRole('radio', { name: 'loss' }).click();
    await page.getByRole('grid', { name: /^Pair matrix, loss/ }).waitFor();
    await check('mesh by loss');
  });

  it('Settings, each tab', { timeout: 120_000 }, async () => {
    await navigate('Settings', 'Settings');
    const tabs: [string, string][] = [
      ['Users', 'Users'],
      ['Tokens', 'Tokens'],
      ['Environments', 'Environments'],
      ['Audit log', 'Audit log'],
    ];
    for (const [tab, table] of tabs) {
      await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: tab }).click();
      await page
        .getByRole('table', { name: new RegExp(table) })
        .first()
        .waitFor();
      await check(`settings ${tab}`);
    }
  });
});
