// The fleet page against a real crash loop (a real agent whose service keeps exiting) and a real
// staged rollout (instances waiting for their wave are calm, and not alerts).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentStateReport, FaultList } from '@flotilla/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  eventually,
  freePort,
  publish,
  setDesired,
  spawnAgent,
} from '../../cli/test/agent-e2e.test.helper.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard fleet tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const red = 'rgb(185, 28, 28)';

describe.skipIf(!haveChromium)('fleet verdicts from a real crash loop and a real rollout', () => {
  let server: TestServer;
  let agent: AgentProcess | null = null;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const colour = (cell: ReturnType<Page['locator']>) =>
    cell.evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).color);
  const agentState = async (token: string, body: AgentStateReport) => {
    const credential = await agentCredentialFor(server.url, token, body.instanceId);
    const res = await fetch(`${server.url}/api/v1/agent/state`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(204);
  };
  const faultsOf = async (instance: string) =>
    ((await call(server.url, adminToken, 'GET', `/api/v1/faults?instance=${instance}`)) as FaultList).faults;

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    server = await startTestServer('sqlite', { rateLimit: '0' });
    await call(server.url, adminToken, 'POST', '/api/v1/users', demoUser);
    for (const name of ['test', 'production']) {
      await call(server.url, adminToken, 'POST', '/api/v1/environments', { name });
    }
    for (const name of ['worker', 'web']) await call(server.url, adminToken, 'POST', '/api/v1/services', { name });

    // Test: a real agent runs `worker`, which exits with code 4 some 2.5 s after each start.
    await publish(server, 'worker', '1.0.0', await freePort(), 'flaky');
    await setDesired(server, 'test', { worker: '1.0.0' });
    const testToken = (
      await call(server.url, adminToken, 'POST', '/api/v1/tokens', { kind: 'agent', name: 'loop', environment: 'test' })
    ).token;
    agent = spawnAgent(server, testToken, undefined, ['--instance-id', 'loop-host']);

    // Production: web 1.0.0 everywhere, then a staged rollout of 1.1.0 whose canary wave has started
    // and whose main wave waits for approval.
    const webPort = await freePort();
    for (const v of ['0.9.0', '1.0.0', '1.1.0']) await publish(server, 'web', v, webPort, 'good');
    await setDesired(server, 'production', { web: '1.0.0' });
    const prodToken = (
      await call(server.url, adminToken, 'POST', '/api/v1/tokens', {
        kind: 'agent',
        name: 'prod hosts',
        environment: 'production',
      })
    ).token;
    const web = (version: string) => [{ service: 'web', version, state: 'running' as const }];
    await agentState(prodToken, { instanceId: 'canary-1', labels: { ring: 'canary' }, services: web('1.0.0') });
    await agentState(prodToken, { instanceId: 'main-1', labels: { ring: 'main' }, services: web('1.0.0') });
    await agentState(prodToken, { instanceId: 'main-2', labels: { ring: 'main' }, services: web('1.0.0') });
    // Runs older than it is served: behind, whatever the rollout.
    await agentState(prodToken, { instanceId: 'main-old', labels: { ring: 'main' }, services: web('0.9.0') });
    await call(server.url, adminToken, 'POST', '/api/v1/environments/production/rollouts', {
      set: { web: '1.1.0' },
      comment: 'spring release',
      waves: [{ selector: { ring: 'canary' } }, { percent: 100 }],
      requireApproval: true,
    });
    await agentState(prodToken, { instanceId: 'canary-1', labels: { ring: 'canary' }, services: web('1.1.0') });

    ({ browser, page } = await openPage(problems));
    await signInAt(page, `${server.url}/fleet`, demoUser, 'Fleet');
  }, 120_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(agent?.output().split('\n').slice(-60).join('\n'));
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.stop();
    expect(problems).toEqual([]);
  });

  it('shows a real crash loop as crash-looping, with its cause and a link to the newest fault', async () => {
    // Three exits of the real service reach the fault store: the verdict turns, whatever the version.
    await eventually(
      'three faults of worker on loop-host',
      async () => ((await faultsOf('loop-host')).length >= 3 ? true : undefined),
      60_000,
    );
    await page.goto(`${server.url}/fleet?env=test`);
    const table = page.getByRole('table', { name: 'Instances of test / worker' });
    const row = table.locator('tbody tr', { hasText: 'loop-host' });
    await expect.poll(() => row.getAttribute('data-verdict'), { timeout: 20_000 }).toBe('crash-looping');
    const verdict = row.locator('td').first();
    expect(await verdict.textContent()).toBe('crash-looping');
    expect(await colour(verdict)).toBe(red);
    const reason = await row.locator('td.reason').textContent();
    expect(reason).toMatch(/^worker 1\.0\.0 crashed \d+ times in the last 10 minutes; last: exited with code 4 /);
    // Said once: the cause is not repeated, and no time is written in the reason itself.
    expect(reason?.match(/exited with code 4/g)).toHaveLength(1);
    expect(await page.getByTestId('count-crash-looping').textContent()).toBe('1');

    // The crash-looping row stays with "Only alerts", and its link opens the newest fault.
    await page.getByLabel('Only alerts').check();
    await expect.poll(() => page.url()).toContain('alerts=1');
    const link = row.getByRole('link', { name: /^newest fault, / });
    const href = (await link.getAttribute('href')) ?? '';
    const ids = (await faultsOf('loop-host')).map((f) => f.id);
    expect(ids).toContain(decodeURIComponent(href.replace('/faults/', '')));
    await link.click();
    await page.getByRole('heading', { name: /Fault of worker on loop-host/ }).waitFor();
    expect(page.url()).toContain(href);

    // The instance page gives the same verdict, cause and link, not under an "Update error".
    await page.goto(`${server.url}/fleet/instances/loop-host`);
    const verdicts = page.getByRole('table', { name: 'Verdicts of loop-host' });
    const workerRow = verdicts.locator('tbody tr', { hasText: 'worker' });
    await expect.poll(() => workerRow.getAttribute('data-verdict'), { timeout: 20_000 }).toBe('crash-looping');
    expect(await workerRow.locator('td.reason').textContent()).toContain('crashed');
    expect(await workerRow.getByRole('link', { name: /^newest fault, / }).count()).toBe(1);
    expect(await page.getByRole('columnheader', { name: 'Update error' }).count()).toBe(0);
  }, 120_000);

  it('shows instances waiting for their rollout wave calmly, and leaves them out of "Only alerts"', async () => {
    await page.goto(`${server.url}/fleet?env=production`);
    const table = page.getByRole('table', { name: 'Instances of production / web' });
    await table.waitFor();
    const verdictOf = (id: string) => table.locator('tbody tr', { hasText: id }).getAttribute('data-verdict');
    expect(await verdictOf('canary-1')).toBe('ok');
    expect(await verdictOf('main-old')).toBe('behind');
    for (const id of ['main-1', 'main-2']) {
      const row = table.locator('tbody tr', { hasText: id });
      expect(await row.getAttribute('data-verdict')).toBe('not-desired-yet');
      expect((await row.getAttribute('class')) ?? '').not.toContain('alert');
      const verdict = row.locator('td').first();
      expect(await verdict.textContent()).toBe('waiting for its wave');
      expect(await colour(verdict)).not.toBe(red);
      expect(await colour(row.locator('td.reason span').first())).not.toBe(red);
    }
    // The behind row is an alert, in red, with its reason.
    const behind = table.locator('tbody tr', { hasText: 'main-old' });
    expect(await colour(behind.locator('td').first())).toBe(red);
    expect(await behind.locator('td.reason').textContent()).toBe(
      'runs 0.9.0 while 1.0.0 is desired, and no update is under way',
    );
    // The legend counts them apart, the waiting ones in the calm colour.
    expect(await page.getByTestId('count-not-desired-yet').textContent()).toBe('2');
    expect(await colour(page.getByTestId('count-not-desired-yet'))).not.toBe(red);
    expect(await page.getByTestId('count-behind').textContent()).toBe('1');

    await page.getByLabel('Only alerts').check();
    await expect.poll(() => page.url()).toContain('alerts=1');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await verdictOf('main-old')).toBe('behind');
    // The counts still cover every instance.
    expect(await page.getByTestId('count-not-desired-yet').textContent()).toBe('2');
  });
});
