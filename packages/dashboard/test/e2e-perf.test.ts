import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UsageResponse } from '@flotilla/protocol';
import type { Browser, CDPSession, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage } from './browser.test.helper.ts';
import { demoServerOptions, demoUser, seedDemo } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** What the page fetched: each answer with its bytes on the wire (headers included), as DevTools counts them. */
interface Fetched {
  url: string;
  type: string;
  encoding: string | undefined;
  wire: number;
}

describe.skipIf(!haveChromium)('the dashboard on a slow link: compressed, and small', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  const problems: string[] = [];
  const fetched = new Map<string, Fetched>();
  const usageAnswers: Response[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-perf-');
    server = await startTestServer('sqlite', demoServerOptions(dir), { dir });
    await seedDemo(server.url, adminToken, { full: true });
    ({ browser, page } = await openPage(problems));
    const signIn = await page.context().request.post(`${server.url}/api/v1/auth/session`, {
      headers: { 'x-flotilla-csrf': '1' },
      data: { name: demoUser.name, password: demoUser.password },
    });
    expect(signIn.status()).toBe(200);
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    cdp.on('Network.responseReceived', (e) => {
      const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      fetched.set(e.requestId, { url: e.response.url, type: e.type, encoding: headers['content-encoding'], wire: 0 });
    });
    cdp.on('Network.loadingFinished', (e) => {
      const f = fetched.get(e.requestId);
      if (f) f.wire = e.encodedDataLength;
    });
    page.on('response', (r) => {
      if (/\/api\/v1\/apps\/[^/]+\/usage/.test(r.url())) usageAnswers.push(r);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('loads the landing page in under 300 KB, its scripts and styles compressed', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('table', { name: 'Instances by app version' }).waitFor();
    // Everything the page shows: the charts and the map load after the tables.
    await page.locator('.map path').first().waitFor();
    await page.locator('.chart svg').first().waitFor();
    await page.waitForLoadState('networkidle');
    expect(page.url()).toContain('/usage');
    const all = [...fetched.values()];
    const assets = all.filter((f) => /\/assets\/.+\.(js|css)$/.test(f.url));
    expect(assets.length).toBeGreaterThan(3);
    // Every asset the build precompressed (1 KB and more) comes as brotli.
    for (const f of assets.filter((a) => a.wire > 1200)) expect(f.encoding, f.url).toBe('br');
    const total = all.reduce((n, f) => n + f.wire, 0);
    const js = all.filter((f) => f.type === 'Script').reduce((n, f) => n + f.wire, 0);
    expect(total).toBeLessThan(300_000);
    expect(js).toBeLessThan(260_000);
    expect(problems).toEqual([]);
  });

  it('asks the usage API only for what the page shows', async () => {
    const answers = usageAnswers.splice(0);
    expect(answers.length).toBeGreaterThanOrEqual(2);
    for (const r of answers) expect((await r.body()).length, r.url()).toBeLessThan(4000);
    const countries = answers.find((r) => r.url().includes('groupBy=country'));
    expect(countries?.url()).toContain('points=none');
    const body = (await countries?.json()) as UsageResponse;
    expect(body.series.map((s) => s.key).sort()).toEqual(['DE', 'FR', 'JP', 'US']);
    for (const s of body.series) expect(s.points).toEqual([]);
    // Ninety days of hourly buckets: only the buckets with check-ins travel.
    await page.getByLabel('Range').selectOption('90d');
    await expect.poll(() => usageAnswers.length).toBeGreaterThanOrEqual(2);
    await page.waitForLoadState('networkidle');
    for (const r of usageAnswers) {
      expect(r.url()).toMatch(/from=/);
      expect((await r.body()).length, r.url()).toBeLessThan(4000);
    }
    await page.getByRole('table', { name: 'Instances by app version' }).waitFor();
  });

  it('compresses a large JSON answer by the browser’s Accept-Encoding', async () => {
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/openapi.json'));
    const size = await page.evaluate(async () => (await (await fetch('/api/openapi.json')).text()).length);
    const r = await answer;
    expect(size).toBeGreaterThan(10_000);
    expect(await r.headerValue('content-encoding')).toBe('br');
    expect(await r.headerValue('vary')).toMatch(/accept-encoding/i);
  });
});
