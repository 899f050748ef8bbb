// Loads the dashboard as a phone on a slow link would and prints what it costs: bytes transferred on
// a first (cold) load, JavaScript among them, the usage API's JSON, and the time to the first table.
//
//   npm run bench:dashboard [-- --runs 3] [--cpu 4] [--no-throttle] [--timeline]
//
// Starts a server with demo data on a loopback port, drives Debian's Chromium (/usr/bin/chromium or
// FLOTILLA_CHROMIUM) through the DevTools protocol with 1.6 Mbit/s down, 750 kbit/s up, 150 ms round
// trips and a 4x slower CPU (--cpu), and removes its server and temp dir afterwards. --timeline prints
// when each request was sent and done.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { demoUser, seedDemo, seedOperations } from '../packages/dashboard/test/demo-data.test.helper.ts';
import { startDemoServer } from './demo-server.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    cpu: { type: 'string', default: '4' },
    'no-throttle': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
  },
});
const runs = Math.max(1, Number(args.runs) || 3);
const chromiumPath = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set FLOTILLA_CHROMIUM)`);
  process.exit(1);
}

/** A slow phone: 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trips, CPU four times slower. */
const slowPhone = {
  latency: 150,
  downloadThroughput: 1_600_000 / 8,
  uploadThroughput: 750_000 / 8,
  cpu: Math.max(1, Number(args.cpu) || 4),
};

interface Load {
  ms: number;
  total: number;
  js: number;
  api: number;
  requests: number;
}

/** Opens `path` in a fresh page (empty cache) and measures until its first table shows and the network is idle. */
async function coldLoad(
  context: BrowserContext,
  url: string,
  complete: readonly string[],
  throttle: boolean,
): Promise<Load> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (throttle) {
    const { latency, downloadThroughput, uploadThroughput } = slowPhone;
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency,
      downloadThroughput,
      uploadThroughput,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: slowPhone.cpu });
  }
  const kinds = new Map<string, string>();
  const bytes = new Map<string, number>();
  const timeline = new Map<string, { url: string; sent: number; done?: number }>();
  cdp.on('Network.requestWillBeSent', (e) =>
    timeline.set(e.requestId, { url: e.request.url.replace(/^https?:\/\/[^/]+/, ''), sent: performance.now() }),
  );
  cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, e.type));
  cdp.on('Network.loadingFinished', (e) => {
    bytes.set(e.requestId, e.encodedDataLength);
    const t = timeline.get(e.requestId);
    if (t) t.done = performance.now();
  });
  const started = performance.now();
  await page.goto(url);
  await page.locator('main table').first().waitFor({ timeout: 60_000 });
  const ms = performance.now() - started;
  // Then everything the page shows (charts and the map load after the tables).
  for (const selector of complete) await page.locator(selector).first().waitFor({ timeout: 60_000 });
  await page.waitForLoadState('networkidle');
  const sum = (kind?: string) =>
    [...bytes].filter(([id]) => !kind || kinds.get(id) === kind).reduce((n, [, b]) => n + b, 0);
  if (args.timeline) {
    console.log(`  ${url}: first table at ${ms.toFixed(0)} ms`);
    for (const t of timeline.values()) {
      console.log(
        `    ${(t.sent - started).toFixed(0).padStart(6)} → ${((t.done ?? 0) - started).toFixed(0).padStart(6)} ms  ${t.url}`,
      );
    }
  }
  const load = { ms, total: sum(), js: sum('Script'), api: sum('Fetch') + sum('XHR'), requests: bytes.size };
  await page.close();
  return load;
}

const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const server = await startDemoServer('bench-dashboard');
const adminToken = server.adminToken;
let browser: Browser | undefined;
try {
  await seedDemo(server.url, adminToken, { full: true });
  await seedOperations(server.url, adminToken);
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
  const signIn = await context.request.post(`${server.url}/api/v1/auth/session`, {
    headers: { 'x-flotilla-csrf': '1' },
    data: { name: demoUser.name, password: demoUser.password },
  });
  if (!signIn.ok()) throw new Error(`sign-in: ${signIn.status()} ${await signIn.text()}`);
  const throttle = !args['no-throttle'];
  console.log(
    throttle
      ? `slow phone: ${slowPhone.downloadThroughput * 0.008} kbit/s down, ${slowPhone.latency} ms RTT, CPU x${slowPhone.cpu}; ${runs} cold loads each, median`
      : `no throttling; ${runs} cold loads each, median`,
  );
  const usageShown = ['.map path', '.chart svg'];
  for (const [name, path, complete] of [
    ['landing page (/ → /usage)', '/', usageShown],
    ['Fleet', '/fleet', ['main table']],
    ['Usage, 90 days', '/usage?range=90d', usageShown],
  ] as const) {
    const loads: Load[] = [];
    for (let i = 0; i < runs; i += 1) loads.push(await coldLoad(context, `${server.url}${path}`, complete, throttle));
    const m = (k: keyof Load) => median(loads.map((l) => l[k]));
    console.log(
      `${name.padEnd(28)} first table ${(m('ms') / 1000).toFixed(2)} s (runs: ${loads.map((l) => (l.ms / 1000).toFixed(2)).join(', ')})` +
        `  transferred ${kb(m('total'))}, JS ${kb(m('js'))}, API ${kb(m('api'))}, ${m('requests')} requests`,
    );
  }
} finally {
  await browser?.close();
  await server.close();
}
