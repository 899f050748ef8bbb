// Headless Chromium for the dashboard's end-to-end tests (Debian's package, driven by playwright-core).
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const chromiumPath = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);

/**
 * A desktop-sized page whose console errors and page errors are collected in `problems`. Answers of
 * 401 (signed out, a wrong password) are expected; anything else, CSP refusals included, is not.
 */
export async function openPage(problems: string[]): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { browser, page };
}
