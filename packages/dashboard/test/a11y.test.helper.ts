// In-page checks for the accessibility test: axe-core, same-named controls, what a phone cuts off.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResult {
  violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
}

// In-page code reaches the document through the root element: test files are type-checked without DOM types.
export const inPage = (page: Page) => page.locator(':root');

/** axe's violations on the page as it is now, one line each, with the elements that broke the rule. */
export async function axe(page: Page): Promise<string[]> {
  // Evaluated rather than added as a <script>: the dashboard's CSP (script-src 'self') rightly refuses inline scripts.
  if (!(await inPage(page).evaluate((root) => 'axe' in root.ownerDocument.defaultView))) {
    await page.evaluate(axeSource);
  }
  const result: AxeResult = await inPage(page).evaluate((root) =>
    root.ownerDocument.defaultView.axe.run(root.ownerDocument),
  );
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
}

/** Form controls and buttons sharing one accessible name with another visible one: the user cannot tell them apart. */
export function sameNamedControls(page: Page): Promise<string[]> {
  return inPage(page).evaluate((root) => {
    const names = new Map<string, number>();
    const controls: (typeof root)[] = [...root.querySelectorAll('input, select, textarea')];
    for (const el of controls) {
      if (el.type === 'hidden' || el.type === 'radio' || !el.checkVisibility()) continue;
      // A label's own words, without the text of the control inside it (a select's options).
      const words: (typeof root)[] = [...(el.labels?.[0]?.childNodes ?? [])].filter((n) => n.nodeType === 3);
      const name = (el.getAttribute('aria-label') ?? words.map((n) => n.textContent).join('')).trim();
      names.set(name, (names.get(name) ?? 0) + 1);
    }
    const buttons: (typeof root)[] = [...root.querySelectorAll('main button')];
    for (const el of buttons) {
      if (!el.checkVisibility()) continue;
      const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
      names.set(name, (names.get(name) ?? 0) + 1);
    }
    return [...names].filter(([, n]) => n > 1).map(([name, n]) => `${n} controls named "${name}"`);
  });
}

/** The outermost elements that reach past the right edge of a 375 px screen, to say what to fix. */
export function overflowing(page: Page): Promise<string> {
  return inPage(page).evaluate((root) => {
    const all: (typeof root)[] = [...root.querySelectorAll('body *')];
    const wide = all.filter((el) => el.getBoundingClientRect().right > 376);
    return wide
      .filter((el) => !wide.includes(el.parentElement))
      .map(
        (el) =>
          `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ${Math.round(el.getBoundingClientRect().right)} px`,
      )
      .join(', ');
  });
}

/** Table cells a phone does not show whole, other than those hidden on narrow screens by design. */
export function cutCells(page: Page): Promise<string[]> {
  return inPage(page).evaluate((root) =>
    ([...root.querySelectorAll('main table td, main table th')] as (typeof root)[])
      .filter((c) => c.closest('tbody') && !c.closest('.hide-narrow') && c.textContent?.trim())
      .filter((c) => {
        const box = c.getBoundingClientRect();
        return !c.checkVisibility() || box.left < 0 || box.right > 375 || c.scrollWidth > c.clientWidth + 1;
      })
      .map(
        (c) =>
          `cell "${c.textContent?.trim().slice(0, 30)}" of table "${c.closest('table')?.getAttribute('aria-label')}" cut off`,
      ),
  );
}

/** The focused element's tag and text. */
export const focused = (page: Page) =>
  inPage(page).evaluate(
    (root) => `${root.ownerDocument.activeElement?.tagName} ${root.ownerDocument.activeElement?.textContent}`,
  );

/** WCAG's contrast ratio of two `rgb(r, g, b)` colours. */
export function contrast(a: string, b: string): number {
  const luminance = (rgb: string) => {
    const [r, g, bl] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((c) => {
      const v = Number(c) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
