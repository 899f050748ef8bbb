import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { chromiumPath, haveChromium, openPage, signInAt } from './browser.test.helper.ts';
import { call, demoUser, seedDemo } from './demo-data.test.helper.ts';

if (!haveChromium) {
  console.warn(`dashboard rollout tests skipped: no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
}
const root = fileURLToPath(new URL('../../..', import.meta.url));

describe.skipIf(!haveChromium)(
  'rollouts on the Desired page, and rolling back during one, in headless Chromium',
  () => {
    let server: TestServer;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];
    const api = (method: string, path: string, body?: unknown) => call(server.url, adminToken, method, path, body);
    const startRollout = async () =>
      api('POST', '/api/v1/environments/production/rollouts', {
        set: { web: '1.1.0' },
        comment: 'new sign-up page',
        // The canary wave holds while the test looks at it.
        waves: [{ selector: { ring: 'canary' } }, { percent: 50 }, { percent: 100 }],
        minWaveSeconds: 3600,
      });
    const openDesired = async (env: string) => {
      await page.goto(`${server.url}/desired?env=${env}`);
      await page.getByRole('table', { name: 'Revision history' }).waitFor();
    };

    beforeAll(async () => {
      execFileSync(process.execPath, [join(root, 'scripts/ensure-dashboard.mjs'), '--quiet'], { stdio: 'inherit' });
      server = await startTestServer('sqlite', { rateLimit: '0' }, { dir: makeTempDir('flotilla-e2e-rollouts-') });
      await seedDemo(server.url, adminToken, { full: true });
      // Production runs web 1.0.0 (revision 1); staging tested it at its revision 1.
      await api('POST', '/api/v1/environments/staging/desired/mark-tested', { revision: 1 });
      await api('PATCH', '/api/v1/environments/production/desired', { set: { web: '1.0.0' }, comment: 'first deploy' });
      const agent = (await api('POST', '/api/v1/tokens', { kind: 'agent', name: 'prod', environment: 'production' }))
        .token as string;
      const report = async (instanceId: string, labels: Record<string, string>, version: string, state = 'running') => {
        const credential = await agentCredentialFor(server.url, agent, instanceId);
        const res = await fetch(`${server.url}/api/v1/agent/state`, {
          method: 'POST',
          headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
          body: JSON.stringify({ instanceId, labels, services: [{ service: 'web', version, state }] }),
        });
        expect(res.status).toBe(204);
      };
      for (const n of [1, 2, 3, 4, 5]) await report(`prod-${n}`, n <= 2 ? { ring: 'canary' } : {}, '1.0.0');
      await startRollout();
      // One canary took the new version; the other still updates.
      await report('prod-1', { ring: 'canary' }, '1.1.0');

      ({ browser, page } = await openPage(problems));
      await signInAt(page, `${server.url}/desired?env=production`, demoUser, 'Desired versions');
    });
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('shows the active rollout on the Desired page with its change and progress, and pauses and resumes it', async () => {
      await openDesired('production');
      const panel = page.getByRole('region', { name: 'Rollout to revision 2: web 1.0.0 → 1.1.0' });
      await panel.waitFor();
      expect(await panel.getByRole('heading').first().textContent()).toContain('web 1.0.0 → 1.1.0');
      const first = panel.getByRole('table').locator('tbody tr').first();
      expect(await first.getAttribute('aria-current')).toBe('step');
      expect(await first.textContent()).toContain('ring=canary');
      expect(await first.textContent()).toContain('1 of 2');
      const [rollout] = (await api('GET', '/api/v1/environments/production/rollouts?active=true')).rollouts;
      expect(await panel.getByRole('link', { name: 'Open it on the Rollouts page' }).getAttribute('href')).toBe(
        `/rollouts?env=production#rollout-${rollout.id}`,
      );
      // The list cannot be edited during the rollout, so editing is not offered.
      expect(await page.getByRole('button', { name: 'Edit versions' }).count()).toBe(0);

      await panel.getByRole('button', { name: 'Pause' }).click();
      await expect.poll(() => panel.locator('.badge').textContent()).toBe('paused');
      expect((await api('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('paused');
      await panel.getByRole('button', { name: 'Resume' }).click();
      await expect.poll(() => panel.locator('.badge').textContent()).toBe('running');
      expect((await api('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('running');
      expect(problems).toEqual([]);
    });

    it('names the change on the rollout card and does not offer a second rollout while one runs', async () => {
      await page
        .getByRole('region', { name: /^Rollout to revision 2/ })
        .getByRole('link')
        .click();
      await page.getByRole('heading', { name: 'Rollouts', exact: true }).waitFor();
      const card = page.locator('section.card[data-rollout]').first();
      await card.waitFor();
      expect(await card.getByRole('heading').first().textContent()).toContain('web 1.0.0 → 1.1.0');
      expect(await card.getAttribute('aria-label')).toBe('Rollout to revision 2: web 1.0.0 → 1.1.0');
      // Landed on the card it links to.
      expect(page.url()).toContain(`#rollout-${await card.getAttribute('data-rollout')}`);
      expect(await page.getByRole('form', { name: 'Start a rollout' }).count()).toBe(0);
      const note = page.getByRole('note');
      expect(await note.textContent()).toContain('A rollout is running in production (web 1.0.0 → 1.1.0)');
      expect(await note.getByRole('link').getAttribute('href')).toBe(
        `#rollout-${await card.getAttribute('data-rollout')}`,
      );
      expect(problems).toEqual([]);
    });

    it('rolls back during the rollout after a confirmation with a comment, aborting it in the same step', async () => {
      await openDesired('production');
      const [rollout] = (await api('GET', '/api/v1/environments/production/rollouts?active=true')).rollouts;
      await page.getByRole('button', { name: 'Older revision' }).click();
      await page.getByRole('heading', { name: 'Revision 1 of 2' }).waitFor();
      await page.getByRole('button', { name: 'Roll back to revision 1…' }).click();
      const confirm = page.getByRole('form', { name: 'Roll back production to revision 1' });
      const warning = confirm.getByRole('alert');
      expect(await warning.textContent()).toContain(
        `A rollout is running in production: web 1.0.0 → 1.1.0 (rollout ${rollout.id})`,
      );
      expect(await warning.getByRole('link', { name: 'See the rollout' }).getAttribute('href')).toBe(
        `/rollouts?env=production#rollout-${rollout.id}`,
      );
      const submit = confirm.getByRole('button', { name: 'Abort the rollout and roll back' });
      // A comment is asked for before anything happens.
      expect(await submit.isDisabled()).toBe(true);
      expect((await api('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('running');
      await confirm.getByLabel('Comment').fill('sign-ups fail on 1.1.0');
      await submit.click();
      await expect
        .poll(() => page.getByRole('status').textContent())
        .toContain('Revision 1 is current again, as revision 3');

      expect((await api('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('aborted');
      expect(await api('GET', '/api/v1/environments/production/desired')).toMatchObject({
        revision: 3,
        versions: { web: '1.0.0' },
        comment: 'sign-ups fail on 1.1.0',
      });
      const history = page.getByRole('table', { name: 'Revision history' });
      await expect.poll(() => history.locator('tbody tr').first().textContent()).toContain('sign-ups fail on 1.1.0');
      await expect.poll(() => page.getByRole('region', { name: /^Rollout to revision/ }).count()).toBe(0);
      const audit = await api('GET', '/api/v1/audit?action=desired.rollback');
      expect(JSON.stringify(audit)).toContain('sign-ups fail on 1.1.0');
      expect(problems).toEqual([]);
    });

    it('aborts a rollout from the Desired page', async () => {
      const rollout = await startRollout();
      await openDesired('production');
      const panel = page.getByRole('region', { name: 'Rollout to revision 4: web 1.0.0 → 1.1.0' });
      await panel.getByRole('button', { name: 'Abort…' }).click();
      await panel.getByRole('button', { name: 'Yes, abort' }).click();
      await expect.poll(async () => (await api('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('aborted');
      await expect.poll(() => panel.count()).toBe(0);
      expect(await api('GET', '/api/v1/environments/production/desired')).toMatchObject({
        revision: 5,
        versions: { web: '1.0.0' },
      });
      await page.getByRole('heading', { name: 'Revision 5 (current)' }).waitFor();
      expect(await page.getByRole('button', { name: 'Edit versions' }).count()).toBe(1);
      expect(problems).toEqual([]);
    });
  },
);
