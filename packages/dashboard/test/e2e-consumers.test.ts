import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { axe } from './a11y.test.helper.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));

describe.skipIf(!haveChromium)('consumer servers in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const api = (method: string, path: string, body?: unknown) => call(server.url, adminToken, method, path, body);

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    server = await startTestServer('sqlite', { rateLimit: '0' }, { dir: makeTempDir('flotilla-e2e-consumers-') });
    await api('POST', '/api/v1/users', demoUser);
    await api('POST', '/api/v1/services', { name: 'web' });
    await api('PUT', '/api/v1/profiles/partner', { services: ['web'] });
    const { token } = (await api('POST', '/api/v1/consumers', {
      name: 'acme',
      profile: 'partner',
      settingsUrls: ['https://git.acme.example/settings/'],
    })) as {
      token: string;
    };
    await call(server.url, token, 'POST', '/api/v1/federation/report', {
      instances: [
        {
          environment: 'prod',
          instanceId: 'acme-host-1',
          service: 'web',
          version: '1.0.0',
          state: 'running',
          reportedAt: null,
        },
      ],
      faults: [],
    });
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists each consumer with its profile and the instances it reported', async () => {
    await signInAt(page, `${server.url}/consumers`, demoUser, 'Consumers');
    const table = page.getByRole('table', { name: 'Consumers' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').first().textContent()).toContain('partner');
    expect(await table.locator('tbody tr').first().textContent()).toContain('https://git.acme.example/settings/');
    const instances = page.getByRole('table', { name: 'Instances of acme' });
    expect(await instances.locator('tbody tr').first().textContent()).toContain('acme-host-1');
    expect(await axe(page)).toEqual([]);
    if (process.env.FLOTILLA_SCREENSHOT)
      await page.screenshot({ path: process.env.FLOTILLA_SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
  });
});
