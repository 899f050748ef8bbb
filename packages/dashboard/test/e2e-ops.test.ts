import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentLogBatch, AgentStateReport } from '@flotilla/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser, agentPost as postAsAgent, seedDemo } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));

const logLine = (message: string, level: 'info' | 'warn' | 'error' = 'info') => ({
  service: 'web',
  version: '1.0.0',
  pid: 4121,
  time: new Date().toISOString(),
  level,
  unit: 'http',
  stream: 'stdout' as const,
  message,
});

describe.skipIf(!haveChromium)('rollouts, fleet, logs and faults in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let agentToken: string;
  const problems: string[] = [];

  const agentPost = (path: string, body: unknown) => postAsAgent(server.url, agentToken, path, body);
  const uploadLogs = (lines: ReturnType<typeof logLine>[]) =>
    agentPost('/api/v1/agent/logs', { instanceId: 'host-1', lines } satisfies AgentLogBatch);

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    const dir = makeTempDir('flotilla-e2e-ops-');
    server = await startTestServer('sqlite', { rateLimit: '0' }, { dir });
    // Staging wants web 1.1.0 and api 2.3.0 (revision 2).
    await seedDemo(server.url, adminToken, { full: true });
    await call(server.url, adminToken, 'POST', '/api/v1/environments', { name: 'edge' });
    const created = await call(server.url, adminToken, 'POST', '/api/v1/tokens', {
      kind: 'agent',
      name: 'host-1 agent',
      environment: 'staging',
    });
    agentToken = created.token;
    ({ browser, page } = await openPage(problems));
    await signInAt(page, `${server.url}/logs`, demoUser, 'Logs');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('searches logs and follows new lines', async () => {
    await uploadLogs([
      logLine('listening on :8080'),
      logLine('slow request: 2.3 s', 'warn'),
      logLine('database unreachable', 'error'),
    ]);
    const form = page.getByRole('form', { name: 'Search logs' });
    await form.getByLabel('Service').fill('web');
    await form.getByLabel('Environment').fill('staging');
    await form.getByLabel('Level and above').selectOption('warn');
    await form.getByRole('button', { name: 'Search' }).click();
    const lines = page.getByRole('list', { name: 'Log lines, oldest first' });
    await expect.poll(() => lines.locator('li').count()).toBe(2);
    expect(page.url()).toContain('service=web');
    expect(page.url()).toContain('level=warn');
    expect(page.url()).toContain('environment=staging');
    expect(await lines.locator('li').last().getAttribute('class')).toBe('lvl-error');
    expect(await lines.textContent()).not.toContain('listening on');

    await page.getByRole('button', { name: 'Follow' }).click();
    await expect.poll(() => page.locator('[data-follow]').getAttribute('data-follow')).toBe('live');
    await uploadLogs([logLine('followed: disk almost full', 'warn'), logLine('not shown: below warn')]);
    await expect.poll(() => lines.locator('li').last().textContent()).toContain('followed: disk almost full');
    expect(await lines.locator('li').count()).toBe(3);
    await page.getByRole('button', { name: 'Stop following' }).click();
    await expect.poll(() => page.locator('[data-follow]').getAttribute('data-follow')).toBe('off');
  });

  it('opens a fault with its log tail and archive', async () => {
    const archive = await makeFaultArchive({
      meta: faultMeta({ instanceId: 'host-1', files: ['core.1'], state: { restarts: 2, phase: 'running' } }),
      logTail: 'starting web\npanic: nil map write\n',
      files: { 'core.1': 'core bytes' },
    });
    const { id } = (await agentPost('/api/v1/agent/faults', readFileSync(archive))) as { id: string };
    await page.getByRole('link', { name: 'Faults', exact: true }).click();
    const table = page.getByRole('table', { name: 'Fault reports' });
    await table.waitFor();
    expect(await table.textContent()).toContain('exit (code 3)');
    await table.locator('tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Fault of web on host-1' }).waitFor();
    expect(page.url()).toContain(`/faults/${id}`);
    expect(await page.getByTestId('log-tail').textContent()).toContain('panic: nil map write');
    expect(await page.getByRole('table', { name: 'State at the time of the fault' }).textContent()).toContain(
      'restarts2',
    );
    expect(await page.getByRole('list', { name: 'Files in the archive' }).textContent()).toContain('files/core.1');
    const link = page.getByRole('link', { name: /Download the archive/ });
    const href = await link.getAttribute('href');
    expect(href).toBe(`/api/v1/faults/${id}/archive`);
    // The same cookie the page uses downloads the archive.
    const res = await page.request.get(`${server.url}${href}`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toBe('application/gzip');
    expect((await res.body()).equals(readFileSync(archive))).toBe(true);
  });

  it('shows an instance behind its desired version in red, also with only alerts', async () => {
    await agentPost('/api/v1/agent/state', {
      instanceId: 'host-1',
      labels: { ring: 'canary' },
      services: [
        { service: 'web', version: '1.0.0', state: 'running', failureCount: 1, lastExitCode: 3 },
        { service: 'api', version: '2.3.0', state: 'running' },
      ],
    } satisfies AgentStateReport);
    await page.getByRole('link', { name: 'Fleet', exact: true }).click();
    const web = page.getByRole('table', { name: 'Instances of staging / web' });
    await web.waitFor();
    const row = web.locator('tbody tr', { hasText: 'host-1' });
    expect(await row.getAttribute('data-verdict')).toBe('behind');
    const verdict = row.locator('td').first();
    expect(await verdict.textContent()).toBe('behind');
    expect(await verdict.evaluate((td) => td.ownerDocument.defaultView?.getComputedStyle(td).color)).toBe(
      'rgb(185, 28, 28)',
    );
    expect(await row.textContent()).toContain('1.0.0');
    expect(await page.getByTestId('count-behind').textContent()).toBe('1');
    expect(await page.getByTestId('count-ok').textContent()).toBe('1');

    await page.getByLabel('Only alerts').check();
    await expect.poll(() => page.url()).toContain('alerts=1');
    await expect.poll(() => page.getByRole('table', { name: 'Instances of staging / api' }).count()).toBe(0);
    expect(await web.locator('tbody tr').count()).toBe(1);
    await page.reload();
    expect(await page.getByLabel('Only alerts').isChecked()).toBe(true);
    await web.locator('tbody tr').getByRole('link', { name: 'host-1' }).click();

    await page.getByRole('heading', { name: 'Instance host-1' }).waitFor();
    const services = page.getByRole('table', { name: 'Services of host-1' });
    await services.waitFor();
    const webRow = services.locator('tbody tr', { hasText: 'web' });
    expect(await webRow.locator('td').allTextContents()).toEqual(
      expect.arrayContaining(['running', '1.0.0', '1', '3']),
    );
    expect(await page.getByText('ring=canary').count()).toBe(1);
    await page.getByRole('link', { name: 'Faults of host-1' }).click();
    await page.getByRole('table', { name: 'Fault reports' }).waitFor();
    expect(page.url()).toContain('instance=host-1');
  });

  it('starts a rollout, shows its first wave, and aborts it', async () => {
    await page.getByRole('link', { name: 'Rollouts', exact: true }).click();
    await page.getByRole('combobox', { name: 'Environment', exact: true }).first().selectOption('staging');
    await page.getByText('No rollouts in staging').waitFor();
    await page.getByText('Start a rollout').click();
    const form = page.getByRole('form', { name: 'Start a rollout' });
    await form.getByLabel('Versions').fill('web=1.0.0');
    await form.getByLabel('Waves').fill('50, 100');
    // A long minimum keeps the first wave current while the test looks at it.
    await form.getByLabel('Minimum wave seconds').fill('600');
    await form.getByLabel('Comment').fill('back to 1.0.0');
    await form.getByRole('button', { name: 'Start rollout' }).click();

    const card = page.getByRole('region', { name: 'Rollout to revision 3' });
    await card.waitFor();
    expect(await card.textContent()).toContain('running');
    const waves = card.getByRole('table', { name: 'Waves of Rollout to revision 3' });
    const first = waves.locator('tbody tr').first();
    expect(await first.getAttribute('aria-current')).toBe('step');
    expect(await first.textContent()).toContain('50%');
    expect(await first.textContent()).toContain('threshold 95%');
    expect(await waves.locator('tbody tr').count()).toBe(2);
    let [rollout] = (await call(server.url, adminToken, 'GET', '/api/v1/environments/staging/rollouts')).rollouts;
    expect(rollout).toMatchObject({ state: 'running', currentWave: 0, minWaveSeconds: 600, comment: 'back to 1.0.0' });

    await card.getByRole('button', { name: 'Abort…' }).click();
    await card.getByRole('button', { name: 'Yes, abort' }).click();
    await expect.poll(() => card.locator('.badge').textContent()).toBe('aborted');
    [rollout] = (await call(server.url, adminToken, 'GET', '/api/v1/environments/staging/rollouts')).rollouts;
    expect(rollout.state).toBe('aborted');
    expect(await card.getByRole('button', { name: 'Abort…' }).count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
