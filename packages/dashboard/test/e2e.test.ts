import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UsageResponse } from '@flotilla/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage } from './browser.test.helper.ts';
import { call, demoServerOptions, demoUser, seedDemo } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));

describe.skipIf(!haveChromium)('the dashboard in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    // The test drives the built files the server serves; this builds them only when they are stale.
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-');
    server = await startTestServer('sqlite', demoServerOptions(dir), { dir });
    await seedDemo(server.url, adminToken);
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in with the session cookie', async () => {
    await page.goto(`${server.url}/usage`);
    await page.getByLabel('User name').fill(demoUser.name);
    await page.getByLabel('Password').fill('wrong password 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('wrong user name or password');
    await page.getByLabel('Password').fill(demoUser.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'flotilla_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it('shows usage numbers equal to the usage API', async () => {
    const api: UsageResponse = await call(server.url, adminToken, 'GET', '/api/v1/apps/demo/usage?groupBy=appVersion');
    const expected = api.series
      .map((s) => [s.key, String(s.points.at(-1)?.instances), String(s.points.reduce((n, p) => n + p.checkins, 0))])
      .sort();
    expect(expected).toEqual([
      ['v1.0.0', '1', '1'],
      ['v1.1.0', '2', '2'],
      ['v1.2.0', '3', '3'],
    ]);
    const table = page.getByRole('table', { name: 'Instances by app version' });
    await table.waitFor();
    const rows = await table
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent ?? '')));
    // Version, instances now, unique now, check-ins in range.
    expect(rows.map((r) => [r[0], r[1], r[3]]).sort()).toEqual(expected);
    expect(await page.getByTestId('total-instances').textContent()).toBe('6');
    expect(await page.getByTestId('adoption').textContent()).toBe('50%');
    expect(await page.getByTestId('unique-instances').textContent()).toBe('6');
    const countries = page.getByRole('table', { name: 'Instances by country' });
    await expect.poll(() => countries.textContent()).toContain('Germany (DE)');
    expect(await countries.textContent()).toContain('United States (US)');
    // The map loads after the tables, in a chunk of its own.
    await expect.poll(() => page.locator('.map path.level-5').count()).toBeGreaterThan(0);
    // The page state lives in the URL.
    await page.getByLabel('Range').selectOption('30d');
    expect(page.url()).toContain('range=30d');
  });

  it('publishes a version from the browser', async () => {
    await page.getByRole('link', { name: 'Releases' }).click();
    await page.getByRole('heading', { name: 'Versions of web' }).waitFor();
    await page.getByText('Publish a version of web').click();
    const form = page.getByRole('form', { name: 'Publish a version of web' });
    await form.getByLabel('Version').fill('1.1.0');
    await form.getByLabel('Notes').fill('From the browser');
    await form
      .getByLabel(/Archive/)
      .setInputFiles(await makeArtifact({ run: { command: 'bin/web' } }, { 'bin/web': 'x' }));
    await form.getByRole('button', { name: 'Publish' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Published web 1.1.0');
    const listed = await call(server.url, adminToken, 'GET', '/api/v1/services/web/versions');
    expect(listed.versions[0]).toMatchObject({ version: '1.1.0', notes: 'From the browser' });
    expect(listed.versions[0].author).toContain(demoUser.name);
    await page.getByRole('heading', { name: 'web 1.1.0' }).waitFor();
    expect(await page.getByTestId('install-manifest').textContent()).toContain('bin/web');
  });

  it('changes a desired version and rolls it back', async () => {
    await page.getByRole('link', { name: 'Desired versions' }).click();
    await page.getByRole('heading', { name: 'Revision 1 (current)' }).waitFor();
    await page.getByRole('button', { name: 'Edit versions' }).click();
    await page.getByLabel('Version of web').selectOption('1.1.0');
    await page.getByLabel('Comment').fill('try 1.1.0');
    await page.getByRole('button', { name: 'Save as revision 2' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Saved as revision 2');
    let desired = await call(server.url, adminToken, 'GET', '/api/v1/environments/staging/desired');
    expect(desired).toMatchObject({ revision: 2, versions: { web: '1.1.0' }, author: demoUser.name });

    await page.getByRole('button', { name: 'Older revision' }).click();
    await page.getByRole('heading', { name: 'Revision 1 of 2' }).waitFor();
    const row = page.getByRole('table', { name: 'Desired versions at revision 1' }).locator('tbody tr');
    expect(await row.getAttribute('data-state')).toBe('changed');
    expect(await row.textContent()).toContain('1.0.0');
    await page.getByRole('button', { name: 'Roll back to revision 1…' }).click();
    const confirm = page.getByRole('form', { name: 'Roll back staging to revision 1' });
    await confirm.getByLabel('Comment').fill('1.1.0 is slower');
    await confirm.getByRole('button', { name: 'Roll back to revision 1', exact: true }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Revision 1 is current again');
    desired = await call(server.url, adminToken, 'GET', '/api/v1/environments/staging/desired');
    expect(desired).toMatchObject({ revision: 3, versions: { web: '1.0.0' }, comment: '1.1.0 is slower' });
  });

  it('signs out and revokes the session', async () => {
    const cookie = (await page.context().cookies()).find((c) => c.name === 'flotilla_session');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const res = await fetch(`${server.url}/api/v1/whoami`, {
      headers: { cookie: `flotilla_session=${cookie?.value}` },
    });
    expect(res.status).toBe(401);
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!haveChromium)('the first visit in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    // No user yet: the server made a setup code, as it prints at a real first start.
    server = await startTestServer('sqlite', {}, { dir: makeTempDir('flotilla-e2e-setup-') });
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('creates the first admin with the setup code and is signed in', async () => {
    expect(server.setupCode).toBeTruthy();
    await page.goto(`${server.url}/`);
    const form = page.getByRole('form', { name: 'Create the first admin' });
    await form.waitFor();
    await form.getByLabel('Setup code').fill('AAAA-BBBB-CCCC');
    await form.getByLabel('User name').fill('root');
    await form.getByLabel('Password').fill('the first admin password');
    await form.getByRole('button', { name: 'Create admin and sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('wrong setup code');

    await form.getByLabel('Setup code').fill((server.setupCode as string).toLowerCase());
    await form.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('root');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'flotilla_session');
    const me = await call(server.url, cookie?.value as string, 'GET', '/api/v1/whoami');
    expect(me).toMatchObject({ user: 'root', role: 'admin' });
  });

  it('offers only sign-in once the first admin exists', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    const signIn = page.getByRole('form', { name: 'Sign in' });
    await signIn.waitFor();
    expect(await page.getByRole('form', { name: 'Create the first admin' }).count()).toBe(0);
    await signIn.getByLabel('User name').fill('root');
    await signIn.getByLabel('Password').fill('the first admin password');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    expect(problems).toEqual([]);
  });
});

describe.skipIf(!haveChromium)('a first visit once the setup code no longer works, in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    // Trusting loopback lets the wrong codes come from many addresses, past the per-address limit.
    server = await startTestServer(
      'sqlite',
      { trustedProxies: '127.0.0.0/8' },
      { dir: makeTempDir('flotilla-e2e-closed-') },
    );
    ({ browser, page } = await openPage(problems));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says how to go on instead of offering a sign-in nobody can use, and checks again', async () => {
    // 100 wrong codes in all void the code, as a guessing visitor would.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${server.url}/api/v1/setup`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-flotilla-csrf': '1',
          'x-forwarded-for': `198.51.100.${Math.floor(i / 5)}`,
        },
        body: JSON.stringify({ code: 'AAAA-BBBB-CCCC', name: 'root', password: 'the first admin password' }),
      });
      expect(res.status).toBe(401);
    }
    await page.goto(`${server.url}/`);
    const closed = page.getByRole('region', { name: 'The setup code no longer works' });
    await closed.waitFor();
    const text = await closed.textContent();
    expect(text).toContain('restart the server');
    expect(text).toContain('flotilla user add <name> --role admin --data-dir <data dir>');
    expect(await page.getByRole('form', { name: 'Sign in' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Create the first admin' }).count()).toBe(0);

    // The operator creates an admin on the server host; the page then offers sign-in.
    const created = await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'root', role: 'admin', password: 'the first admin password' }),
    });
    expect(created.status).toBe(201);
    await closed.getByRole('button', { name: 'Check again' }).click();
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    expect(problems).toEqual([]);
  });
});
