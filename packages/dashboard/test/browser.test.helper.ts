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

/** Opens `url` signed out, signs in as `user` on the sign-in page, and waits for the page's heading. */
export async function signInAt(page: Page, url: string, user: { name: string; password: string }, heading: string) {
  await page.goto(url);
  await page.getByLabel('User name').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
}
