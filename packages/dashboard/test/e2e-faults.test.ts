import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentLogBatch } from '@flotilla/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser, agentPost as postAsAgent, seedDemo } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard fault tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));
const zone = 'Europe/Berlin';
const minute = 60_000;
// Half an hour before midnight UTC, yesterday: in Berlin it is already the next day.
const faultAt = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 30 * minute;

/** `2026-03-01 13:00:05` in `timeZone`, written independently of the dashboard's own formatter. */
const expected = (ms: number, timeZone: string) => new Date(ms).toLocaleString('sv-SE', { timeZone });

const logLine = (ms: number, message: string, level: 'info' | 'error' = 'info') => ({
  service: 'web',
  version: '1.1.0',
  time: new Date(ms).toISOString(),
  level,
  unit: 'web',
  stream: 'stdout' as const,
  message,
});

describe.skipIf(!haveChromium)('from a fault to its logs, in one time zone', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let agentToken: string;
  const problems: string[] = [];

  const agentPost = (path: string, body: unknown) => postAsAgent(server.url, agentToken, path, body);
  async function uploadFault(ms: number, reason = 'exit', exitCode: number | null = 2) {
    const tail = Array.from({ length: 80 }, (_, i) => `worker tick ${i}`);
    const archive = await makeFaultArchive({
      meta: faultMeta({ version: '1.1.0', time: new Date(ms).toISOString(), reason, exitCode }),
      logTail: `${[...tail, 'panic: nil map write'].join('\n')}\n`,
    });
    await agentPost('/api/v1/agent/faults', readFileSync(archive));
  }
  /** Whether the element's scrollable content is scrolled to its end (and there was something to scroll). */
  const atEnd = (selector: string) =>
    page.locator(selector).evaluate((el) => ({
      scrolls: el.scrollHeight > el.clientHeight + 50,
      end: el.scrollTop + el.clientHeight >= el.scrollHeight - 2,
    }));

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
    server = await startTestServer('sqlite', { rateLimit: '0' }, { dir: makeTempDir('flotilla-e2e-faults-') });
    await seedDemo(server.url, adminToken);
    await call(server.url, adminToken, 'POST', '/api/v1/environments', { name: 'staging' }).catch(() => undefined);
    const created = await call(server.url, adminToken, 'POST', '/api/v1/tokens', {
      kind: 'agent',
      name: 'host-1 agent',
      environment: 'staging',
    });
    agentToken = created.token;

    // Lines long before, around and long after the fault: the newest 200 hold none of the fault's.
    const lines = [
      logLine(faultAt - 2 * 60 * minute, 'long before: booting'),
      logLine(faultAt - 2 * minute, 'starting worker'),
      logLine(faultAt - 1000, 'panic: nil map write', 'error'),
      logLine(faultAt, 'exited with code 2', 'error'),
      logLine(faultAt + 30_000, 'restarting'),
      ...Array.from({ length: 250 }, (_, i) => logLine(faultAt + 2 * 60 * minute + i * 1000, `long after ${i}`)),
    ];
    await agentPost('/api/v1/agent/logs', { instanceId: 'host-1', lines } satisfies AgentLogBatch);
    // A crash loop of 8 exits a minute apart, and one rollback of another kind in between.
    for (let i = 7; i >= 0; i -= 1) await uploadFault(faultAt - i * 70_000);
    await uploadFault(faultAt - 4 * minute - 10_000, 'update-rolled-back', null);

    ({ browser, page } = await openPage(problems));
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: zone });
    await signInAt(page, `${server.url}/faults`, demoUser, 'Faults');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('groups the crash loop into one row with its count, first and last time', async () => {
    const table = page.getByRole('table', { name: 'Fault reports' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    const group = page.getByTestId('fault-group');
    const text = await group.textContent();
    expect(text).toContain(`8 times from ${expected(faultAt - 7 * 70_000, zone)} to ${expected(faultAt, zone)}`);
    expect(await rows.nth(1).textContent()).toContain('update-rolled-back');
    await group.getByRole('button', { name: 'Show all 8' }).click();
    expect(await rows.count()).toBe(10);
    await group.getByRole('button', { name: 'Hide all 8' }).click();
    expect(await rows.count()).toBe(2);
  });

  it('opens the fault with its log tail at the end, in the viewer zone, named', async () => {
    expect(expected(faultAt, zone).slice(0, 10)).not.toBe(expected(faultAt, 'UTC').slice(0, 10));
    await page.getByTestId('fault-group').getByRole('link').click();
    await page.getByRole('heading', { name: 'Fault of web on host-1' }).waitFor();
    expect(await page.locator('dl.facts dd').first().textContent()).toBe(`${expected(faultAt, zone)} ${zone}`);
    expect(await page.getByLabel('Times in').inputValue()).toBe('local');
    expect(await page.getByLabel('Times in').locator('option:checked').textContent()).toBe(zone);
    await expect.poll(() => atEnd('[data-testid="log-tail"]')).toEqual({ scrolls: true, end: true });
  });

  it("lands on the fault's log lines in one click, the fault's line in view, same zone and date", async () => {
    await page.getByRole('link', { name: /^Logs of web on host-1 around/ }).click();
    const list = page.getByRole('list', { name: 'Log lines, oldest first' });
    await expect.poll(() => list.textContent()).toContain('exited with code 2');
    const text = await list.textContent();
    expect(text).toContain('starting worker');
    expect(text).toContain('panic: nil map write');
    expect(text).toContain('restarting');
    expect(text).not.toContain('long before');
    expect(text).not.toContain('long after');
    const params = new URL(page.url()).searchParams;
    expect(params.get('service')).toBe('web');
    expect(params.get('instance')).toBe('host-1');
    expect(params.get('environment')).toBe('staging');
    expect(await page.getByTestId('log-range').textContent()).toContain(`(${zone})`);

    const marked = list.locator('li[data-mark="fault"]');
    expect(await marked.textContent()).toContain('exited with code 2');
    expect(await marked.locator('time').textContent()).toBe(`${expected(faultAt, zone)}.000`);
    const [box, line] = await Promise.all([list.boundingBox(), marked.boundingBox()]);
    expect(box && line && line.y >= box.y && line.y + line.height <= box.y + box.height).toBe(true);
  });

  it('switches every time to UTC, remembered across a reload', async () => {
    await page.getByLabel('Times in').selectOption('utc');
    const list = page.getByRole('list', { name: 'Log lines, oldest first' });
    const marked = list.locator('li[data-mark="fault"] time');
    await expect.poll(() => marked.textContent()).toBe(`${expected(faultAt, 'UTC')}.000`);
    expect(await page.getByTestId('log-range').textContent()).toContain('(UTC)');

    await page.goBack();
    await page.getByRole('heading', { name: 'Fault of web on host-1' }).waitFor();
    await expect.poll(() => page.locator('dl.facts dd').first().textContent()).toBe(`${expected(faultAt, 'UTC')} UTC`);
    await page.reload();
    await page.getByRole('heading', { name: 'Fault of web on host-1' }).waitFor();
    expect(await page.getByLabel('Times in').inputValue()).toBe('utc');
    await expect.poll(() => page.locator('dl.facts dd').first().textContent()).toBe(`${expected(faultAt, 'UTC')} UTC`);
  });

  it('goes back to the newest lines, opened at their end', async () => {
    await page.goForward();
    await page.getByTestId('log-range').getByRole('button', { name: 'Newest lines' }).click();
    const list = page.getByRole('list', { name: 'Log lines, oldest first' });
    await expect.poll(() => list.textContent()).not.toContain('exited with code 2');
    expect(await page.getByTestId('log-range').count()).toBe(0);
    expect(await list.locator('li').last().textContent()).toContain('long after 249');
    await expect.poll(() => atEnd('ol.log')).toEqual({ scrolls: true, end: true });
    expect(new URL(page.url()).searchParams.get('service')).toBe('web');

    // Following keeps the view at the end as lines arrive.
    await page.getByRole('button', { name: 'Follow' }).click();
    await expect.poll(() => page.locator('[data-follow]').getAttribute('data-follow')).toBe('live');
    const more = Array.from({ length: 30 }, (_, i) => logLine(faultAt + 3 * 60 * minute + i, `followed ${i}`));
    await agentPost('/api/v1/agent/logs', { instanceId: 'host-1', lines: more } satisfies AgentLogBatch);
    await expect.poll(() => list.locator('li').last().textContent()).toContain('followed 29');
    await expect.poll(() => atEnd('ol.log')).toEqual({ scrolls: true, end: true });
    await page.getByRole('button', { name: 'Stop following' }).click();
    expect(problems).toEqual([]);
  });
});
