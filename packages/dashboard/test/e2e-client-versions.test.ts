import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const commit = '0123456789abcdef0123456789abcdef01234567';

describe.skipIf(!haveChromium)('client versions on the Releases page in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const upload = async (version: string, manifest: unknown) => {
    const res = await fetch(`${server.url}/api/v1/services/web/versions/${encodeURIComponent(version)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
      body: readFileSync(await makeArtifact(manifest)),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { digest: string };
  };

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    server = await startTestServer('sqlite', { rateLimit: '0' }, { dir: makeTempDir('flotilla-e2e-client-') });
    await call(server.url, adminToken, 'POST', '/api/v1/users', demoUser);
    await call(server.url, adminToken, 'POST', '/api/v1/services', { name: 'web' });
    const run = { command: 'bin/web' };
    const { digest } = await upload('2.0.0', { run });
    await upload('2.0.0+client', {
      run,
      client: {
        builder: 'flotilla client-version build test',
        developerVersion: '2.0.0',
        developerDigest: digest,
        generation: 0,
        settings: [{ name: 'acme', url: 'https://git.example.com/acme.git', ref: 'main', commit }],
        macros: [],
        inputs: 'c'.repeat(64),
        log: { sha256: 'b'.repeat(64), bytes: 1 },
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:01.000Z',
      },
    });
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows each version’s kind, and a client version’s developer version and settings commits', async () => {
    await signInAt(page, `${server.url}/releases`, demoUser, 'Releases');
    const table = page.getByRole('table', { name: 'Versions of web' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.locator('tbody tr').nth(0).textContent()).toContain('client of 2.0.0');
    expect(await table.locator('tbody tr').nth(1).textContent()).toContain('developer');
    await table.getByRole('button', { name: '2.0.0+client' }).click();
    await page.getByRole('heading', { name: 'web 2.0.0+client' }).waitFor();
    expect(await page.getByTestId('client-settings').textContent()).toContain(
      `acme: https://git.example.com/acme.git ${commit}`,
    );
    expect(problems).toEqual([]);
  });
});
