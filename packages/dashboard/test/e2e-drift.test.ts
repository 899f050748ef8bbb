// The Drift pages against a real server: reports sent through the API by agent tokens, compared by the
// server's own resolver with release lists from a local stand-in for GitHub.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../../server/src/drift/upstreams/fake-upstream.test-support.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { axe, cutCells, inPage } from './a11y.test.helper.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';
import {
  driftServerOptions,
  seedDrift,
  startDriftUpstreams,
  waitForDriftComparison,
} from './drift-demo.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard drift tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
/** A host with more subjects than one page holds (the page asks for 100). */
const bulk = Array.from({ length: 100 }, (_, i) => `svc-${String(i).padStart(3, '0')}`);

describe.skipIf(!haveChromium)('the Drift pages', () => {
  let server: TestServer;
  let upstreams: FakeUpstream;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  /** The rows of every place's table, as `place subject behind-label`. */
  const rows = () =>
    page
      .locator('main table[aria-label^="Subjects on"] tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.closest('section')?.getAttribute('aria-label'), tr.querySelector('th a')?.textContent]),
      );
  const badge = (subject: string, place: string) =>
    page.getByRole('table', { name: `Subjects on ${place}` }).getByRole('row', { name: new RegExp(`^${subject}\\b`) });
  /** axe at 1280 and 375 px, and nothing cut off on a phone. */
  async function accessible(state: string): Promise<void> {
    const found: string[] = [];
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 800 });
      await page.waitForTimeout(100);
      for (const v of await axe(page)) found.push(`${state} at ${width} px: ${v}`);
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
    upstreams = await startDriftUpstreams();
    server = await startTestServer('sqlite', { rateLimit: '0', ...driftServerOptions(upstreams) });
    await call(server.url, adminToken, 'POST', '/api/v1/users', demoUser);
    for (const name of ['production', 'staging']) {
      await call(server.url, adminToken, 'POST', '/api/v1/environments', { name });
    }
    await seedDrift(server.url, adminToken);
    const { token } = await call(server.url, adminToken, 'POST', '/api/v1/tokens', {
      kind: 'agent',
      name: 'bulk host',
      environment: 'staging',
    });
    await call(server.url, token, 'POST', '/api/v1/drift/reports', {
      agentId: 'stg-bulk',
      complete: true,
      subjects: bulk.map((subject) => ({ subject, versions: [{ runningVersion: '1.0.0', resourceCount: 1 }] })),
    });
    await waitForDriftComparison(server.url, adminToken);
    ({ browser, page } = await openPage(problems));
    await signInAt(page, `${server.url}/drift`, demoUser, 'Drift');
  }, 120_000);
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await upstreams?.stop();
  });

  it('lists subjects by place, each labelled and coloured by how far behind', async () => {
    await page.getByRole('table', { name: 'Subjects on production / prod-eu' }).waitFor();
    const expected: [string, string, string, string][] = [
      ['coredns', 'production / prod-eu', 'major', '1 major behind'],
      ['nginx', 'production / prod-eu', 'patch', '1 patch behind'],
      ['ingress', 'production / prod-us', 'minor', '1 minor behind'],
      ['coredns', 'production / prod-us', 'none', 'current'],
      ['coredns', 'staging / stg-apps', 'major', '1 major behind'],
    ];
    const colours = new Map<string, string>();
    for (const [subject, place, behind, label] of expected) {
      const row = badge(subject, place);
      expect(await row.getAttribute('data-behind')).toBe(behind);
      expect(await row.locator('.badge').first().textContent()).toBe(label);
      colours.set(
        behind,
        await row
          .locator('.badge')
          .first()
          .evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).backgroundColor),
      );
    }
    // Each severity has its own colour, besides its words.
    expect(new Set(colours.values()).size).toBe(4);
    expect(await badge('coredns', 'production / prod-eu').textContent()).toContain('v2.0.0');
    expect(await badge('coredns', 'production / prod-eu').textContent()).toContain('1.7.0 ×3');
    // endoflife.date: support of Kubernetes 1.27 ends in 10 days, a finding in red.
    const kubernetes = badge('kubernetes', 'production / prod-eu');
    expect(await kubernetes.getAttribute('data-behind')).toBe('minor');
    expect(await kubernetes.locator('.bad').textContent()).toMatch(/^support ends in (9|10) days$/);
    // The tracker's own error, and an upstream that fails, are shown on their rows.
    expect(await badge('kubelet', 'production / prod-eu').textContent()).toContain('Tracker: spec.localVersion');
    expect(await badge('redis', 'production / prod-eu').getAttribute('data-behind')).not.toBe('none');
    expect(await page.getByRole('region', { name: 'production / prod-eu' }).textContent()).toContain('team:core');
  });

  it('pages with the cursor', async () => {
    const first = await rows();
    expect(first).toHaveLength(100);
    expect(first.at(-1)).toEqual(['staging / stg-bulk', 'svc-091']);
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(async () => (await rows()).map(([, s]) => s)).toEqual(bulk.slice(92));
    expect(new URL(page.url()).searchParams.get('after')).toBeTruthy();
    await page.getByRole('button', { name: 'First page' }).click();
    await expect.poll(async () => (await rows()).length).toBe(100);
  });

  it('narrows the list by how far behind, tag, environment and subject, kept in the URL', async () => {
    const form = page.getByRole('form', { name: 'Filter drift' });
    await form.getByLabel('Behind').selectOption('minor');
    await form.getByRole('button', { name: 'Filter' }).click();
    // At least a minor behind: the minors and the majors.
    await expect.poll(rows).toEqual([
      ['production / prod-eu', 'coredns'],
      ['production / prod-eu', 'kubernetes'],
      ['production / prod-us', 'ingress'],
      ['staging / stg-apps', 'coredns'],
    ]);
    expect(new URL(page.url()).searchParams.get('behind')).toBe('minor');

    await form.getByLabel('Behind').selectOption('');
    await form.getByLabel('Tags').fill('region:us');
    await form.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(rows).toEqual([
      ['production / prod-us', 'coredns'],
      ['production / prod-us', 'ingress'],
    ]);

    await page.goto(`${server.url}/drift?environment=staging&subject=coredns`);
    await expect.poll(rows).toEqual([['staging / stg-apps', 'coredns']]);
    expect(await page.getByRole('form', { name: 'Filter drift' }).getByLabel('Environment').inputValue()).toBe(
      'staging',
    );

    await page.goto(`${server.url}/drift?subject=nothing-runs-this`);
    await page.getByRole('region', { name: 'No matching subjects' }).waitFor();
    await page.goto(`${server.url}/drift?environment=production`);
    await page.getByRole('table', { name: 'Subjects on production / prod-eu' }).waitFor();
    await accessible('drift list');
  });

  it("shows a subject's places, versions and newer releases with safe links", async () => {
    await badge('coredns', 'production / prod-eu').getByRole('link', { name: 'coredns' }).click();
    await page.getByRole('heading', { name: 'Drift of coredns', level: 2 }).waitFor();
    expect(await page.title()).toBe('Drift of coredns · Flotilla');
    const places = page.getByRole('table', { name: 'Places running coredns' });
    await places.waitFor();
    const placeRows = places.locator('tbody tr');
    expect(await placeRows.count()).toBe(3);
    expect(await placeRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-behind')))).toEqual([
      'major',
      'none',
      'major',
    ]);
    expect(await page.locator('dl.facts').textContent()).toContain('v2.0.0');

    const newer = page.getByRole('table', { name: 'Releases newer than 1.7.0' });
    const major = newer.getByRole('link', { name: 'v2.0.0' });
    expect(await major.getAttribute('href')).toBe('https://github.com/coredns/coredns/releases/tag/v2.0.0');
    expect(await major.getAttribute('target')).toBe('_blank');
    expect(await major.getAttribute('rel')).toContain('noopener');
    expect(await newer.getByRole('row', { name: /^v2\.0\.0/ }).textContent()).toContain('major');
    expect(await newer.getByRole('row', { name: /^v1\.8\.0/ }).textContent()).toContain('minor');
    // A release whose link is not http(s) is listed, but not as a link.
    const patch = newer.getByRole('row', { name: /^v1\.7\.1/ });
    expect(await patch.textContent()).toContain('patch');
    expect(await patch.locator('a').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    // Published dates, in the dashboard's time format.
    expect(await newer.getByRole('row', { name: /^v2\.0\.0/ }).textContent()).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d/);
    await page.getByRole('region', { name: 'Releases newer than 1.8.0' }).waitFor();
    await accessible('drift subject');

    // End of support, from endoflife.date's cycles.
    await page.goto(`${server.url}/drift/subjects/kubernetes`);
    const k8s = page.getByRole('table', { name: 'Places running kubernetes' });
    await k8s.waitFor();
    expect(await page.locator('dl.facts').textContent()).toContain('End of support');
    expect(await k8s.locator('tbody tr').first().textContent()).toMatch(/support ends in (9|10) days/);
    const cycles = page.getByRole('table', { name: 'Releases newer than 1.27.3' });
    expect(await cycles.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.cells[1]?.textContent))).toEqual([
      'minor',
      'patch',
    ]);

    await page.goto(`${server.url}/drift/subjects/no-such-subject`);
    await page.getByRole('region', { name: 'No place runs this subject' }).waitFor();
    // The 404 is the expected answer here, not a problem of the page.
    problems.splice(0, problems.length, ...problems.filter((p) => !/status of 404/.test(p)));
  });

  it('shows the fetch status of each upstream, with its quota and its error', async () => {
    await page.goto(`${server.url}/drift`);
    await page.getByRole('navigation', { name: 'Drift sections' }).getByRole('link', { name: 'Upstreams' }).click();
    const table = page.getByRole('table', { name: 'Upstream fetch status' });
    await table.waitFor();
    expect(await page.title()).toBe('Drift upstreams · Flotilla');
    const coredns = table.locator('tr[data-upstream*="coredns/coredns"]');
    const text = await coredns.textContent();
    expect(text).toContain('github');
    expect(text).toContain('v2.0.0');
    expect(text).toContain('57 of 60 left');
    expect(text).toMatch(/\d+ s old, 4 versions/);
    const broken = table.locator('tr[data-upstream*="acme/broken"]');
    expect(await broken.locator('.bad').textContent()).toBeTruthy();
    expect(await broken.textContent()).toContain('none yet');
    await accessible('drift upstreams');
  });
});
