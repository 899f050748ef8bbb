import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildJob } from '@flotilla/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeBuilder } from '../../server/src/builds/runner.test.helper.ts';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const source = { name: 'app', url: 'https://git.example.com/web.git', ref: 'main' };

describe.skipIf(!haveChromium)('builds in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const api = (method: string, path: string, body?: unknown) => call(server.url, adminToken, method, path, body);

  /** Queues a build for the fake builder (`act` picks what it does) and waits until it ends. */
  async function build(act: string, client = false): Promise<BuildJob> {
    const job = (
      client
        ? await api('POST', '/api/v1/services/web/client-builds', {
            from: '1.0.0',
            settings: [source],
            macros: { act },
          })
        : await api('POST', '/api/v1/services/web/builds', { sources: [source], macros: { act } })
    ) as BuildJob;
    for (let i = 0; i < 200; i++) {
      const now = (await api('GET', `/api/v1/builds/${job.id}`)) as BuildJob;
      if (now.state !== 'queued' && now.state !== 'running') return now;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`build ${job.id} did not end`);
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-builds-');
    // The builder is a real child process that prints a log and ends as told (the queue's test builder).
    server = await startTestServer(
      'sqlite',
      { rateLimit: '0', buildConcurrency: '1' },
      { dir, start: { builder: fakeBuilder(dir) } },
    );
    await api('POST', '/api/v1/users', demoUser);
    await api('POST', '/api/v1/services', { name: 'web' });
    const artifact = readFileSync(await makeArtifact({ run: { command: './web' } }));
    const published = await fetch(`${server.url}/api/v1/services/web/versions/1.0.0`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
      body: artifact,
    });
    expect(published.status).toBe(201);
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists the builds with their kinds and states, and shows a failed one with its log', async () => {
    const failed = await build('fail');
    const succeeded = await build('ok');
    const client = await build('ok', true);
    expect([failed.state, succeeded.state, client.state]).toEqual(['failed', 'succeeded', 'succeeded']);

    await signInAt(page, `${server.url}/builds`, demoUser, 'Builds');
    const table = page.getByRole('table', { name: 'Builds' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(3);
    const rows = await table.locator('tbody tr').allTextContents();
    expect(rows.find((r) => r.startsWith(String(failed.id)))).toContain('failed: ');
    expect(rows.find((r) => r.startsWith(String(succeeded.id)))).toMatch(/webversion.*succeeded/);
    expect(rows.find((r) => r.startsWith(String(client.id)))).toMatch(/webclient of 1\.0\.0.*succeeded/);

    await table.getByRole('link', { name: String(failed.id), exact: true }).click();
    await page.getByRole('heading', { name: `Build ${failed.id} of web`, level: 2 }).waitFor();
    const log = page.getByTestId('build-log');
    await expect.poll(() => log.textContent()).toContain('it broke');
    expect(await page.getByRole('button', { name: 'Cancel the build' }).count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
