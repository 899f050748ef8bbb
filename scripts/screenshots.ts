// Starts a server with demo data and saves a PNG of each dashboard page into docs/screenshots/.
//
//   npm run screenshots              (builds the dashboard first when it is stale)
//   npm run screenshots -- drift     (only the shots whose names start with one of the words given)
//
// Needs Debian's Chromium at /usr/bin/chromium (or FLOTILLA_CHROMIUM).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { demoUser, seedDemo, seedOperations } from '../packages/dashboard/test/demo-data.test.helper.ts';
import { seedDrift, waitForDriftComparison } from '../packages/dashboard/test/drift-demo.test.helper.ts';
import { seedMesh } from '../packages/dashboard/test/mesh-demo.test.helper.ts';
import { startDemoServer } from './demo-server.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'docs/screenshots');
const only = process.argv.slice(2);
const chromiumPath = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set FLOTILLA_CHROMIUM)`);
  process.exit(1);
}

const server = await startDemoServer('shots');
const adminToken = server.adminToken;
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  await seedDemo(server.url, adminToken, { full: true });
  await seedOperations(server.url, adminToken);
  await seedDrift(server.url, adminToken);
  await waitForDriftComparison(server.url, adminToken);
  await seedMesh(server.url, adminToken, 'production');
  mkdirSync(out, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const shot = async (name: string) => {
    if (only.length > 0 && !only.some((prefix) => name.startsWith(prefix))) return;
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`docs/screenshots/${name}.png`);
  };
  const open = async (path: string, ready: (p: Page) => Promise<unknown>) => {
    await page.goto(`${server.url}${path}`);
    await ready(page);
  };

  await open('/', (p) => p.getByRole('button', { name: 'Sign in' }).waitFor());
  await page.getByLabel('User name').fill(demoUser.name);
  await shot('sign-in');
  await page.getByLabel('Password').fill(demoUser.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('table', { name: 'Instances by app version' }).waitFor();
  await open('/usage?app=demo&range=24h', (p) => p.locator('.map path.level-5').first().waitFor());
  await shot('usage');
  await open('/releases?service=web&version=1.1.0', (p) => p.getByTestId('install-manifest').waitFor());
  await shot('releases');
  await open('/desired?env=staging&rev=1', (p) => p.getByRole('heading', { name: 'Revision 1 of 2' }).waitFor());
  await shot('desired-versions');
  await open('/settings?tab=tokens', (p) => p.getByRole('table', { name: 'Tokens' }).waitFor());
  await shot('settings-tokens');
  await open('/settings?tab=audit', (p) => p.getByRole('table', { name: 'Audit log' }).waitFor());
  await shot('settings-audit');
  await open('/rollouts?env=production', (p) => p.locator('[data-rollout]').first().waitFor());
  await shot('rollouts');
  await open('/fleet?env=staging', (p) => p.getByRole('table', { name: 'Instances of staging / web' }).waitFor());
  await shot('fleet');
  await open('/fleet/instances/stg-3', (p) => p.getByRole('table', { name: 'Services of stg-3' }).waitFor());
  await shot('fleet-instance');
  await open('/logs', (p) => p.getByRole('list', { name: 'Log lines, oldest first' }).waitFor());
  await shot('logs');
  await open('/faults', (p) => p.getByRole('table', { name: 'Fault reports' }).waitFor());
  await shot('faults');
  await page.getByRole('table', { name: 'Fault reports' }).getByRole('link').first().click();
  await page.getByTestId('log-tail').waitFor();
  await shot('fault-detail');
  await open('/drift', (p) => p.getByRole('table', { name: 'Subjects on production / prod-eu' }).waitFor());
  await shot('drift');
  await open('/drift/subjects/coredns', (p) => p.getByRole('table', { name: 'Releases newer than 1.7.0' }).waitFor());
  await shot('drift-subject');
  await open('/drift/upstreams', (p) => p.getByRole('table', { name: 'Upstream fetch status' }).waitFor());
  await shot('drift-upstreams');
  await open('/mesh?env=production&from=eu-3&to=eu-1', (p) =>
    p.getByRole('img', { name: 'p50, p99 and loss of eu-3 → eu-1 per minute' }).waitFor(),
  );
  // From the summary down: the partitions, the matrix and the selected pair's history.
  await page.evaluate('window.scrollTo(0, document.querySelector(\'dl[aria-label="Mesh summary"]\').offsetTop - 8)');
  await shot('mesh');
  await page.setViewportSize({ width: 375, height: 800 });
  await open('/usage?app=demo&range=24h', (p) => p.getByRole('table', { name: 'Instances by app version' }).waitFor());
  await shot('usage-phone');
  await open('/fleet?env=staging&alerts=1', (p) =>
    p.getByRole('table', { name: 'Instances of staging / web' }).waitFor(),
  );
  await shot('fleet-phone');
  await open('/logs?level=warn', (p) => p.getByRole('list', { name: 'Log lines, oldest first' }).waitFor());
  await shot('logs-phone');
} finally {
  await browser.close();
  await server.close();
}
