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

describe.skipIf(!haveChromium)('deleted items in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const api = (method: string, path: string, body?: unknown) => call(server.url, adminToken, method, path, body);

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-trash-');
    server = await startTestServer('sqlite', { rateLimit: '0' }, { dir });
    await api('POST', '/api/v1/users', demoUser);
    for (const name of ['web', 'api']) {
      await api('POST', '/api/v1/services', { name });
      await api('DELETE', `/api/v1/services/${name}`);
    }
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists what was deleted and restores one, which leaves the list', async () => {
    await signInAt(page, `${server.url}/settings?tab=trash`, demoUser, 'Settings');
    const table = page.getByRole('table', { name: 'Deleted items' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await axe(page)).toEqual([]);

    await table.getByRole('button', { name: 'Restore service web' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').first().textContent()).toContain('api');
    const services = (await api('GET', '/api/v1/services')) as { services: { name: string }[] };
    expect(services.services.map((s) => s.name)).toEqual(['web']);
    expect(problems).toEqual([]);
  });
});
