import { type RefObject, useEffect, useRef } from 'react';
import { matchRoutes, useLocation } from 'react-router';
import { pages } from '../routes.tsx';

const routes = pages.map((p) => ({ path: `/${p.path}`, page: p }));

/** Sets the document title, "Fleet · Flotilla", so tabs, history and screen readers tell pages apart. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Flotilla` : 'Flotilla';
  }, [title]);
}

/** The current page's title, from its route: the menu label, or what a detail page makes of the URL. */
export function usePageTitle(): string {
  const location = useLocation();
  const match = matchRoutes(routes, location)?.[0];
  if (!match) return 'Page not found';
  const { page } = match.route;
  return page.title?.(match.params) ?? page.label ?? '';
}

/**
 * After a move to another page (not a change of its query), focus goes to the new page's heading, so
 * keyboard and screen-reader users start reading there instead of on the menu link they followed.
 * The heading may come later than the route (a page's code loads on first visit), hence the observer.
 */
export function useFocusHeadingOnNavigation(main: RefObject<HTMLElement | null>): void {
  const { pathname } = useLocation();
  const last = useRef(pathname);
  useEffect(() => {
    if (last.current === pathname || !main.current) return;
    last.current = pathname;
    const root = main.current;
    const focus = () => {
      const heading = root.querySelector<HTMLElement>('h2');
      if (!heading) return false;
      heading.tabIndex = -1;
      heading.focus();
      return true;
    };
    if (focus()) return;
    const observer = new MutationObserver(() => {
      if (focus()) observer.disconnect();
    });
    observer.observe(root, { childList: true, subtree: true });
    const giveUp = setTimeout(() => observer.disconnect(), 10_000);
    return () => {
      observer.disconnect();
      clearTimeout(giveUp);
    };
  }, [pathname, main]);
}
