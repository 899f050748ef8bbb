import { Suspense, useRef, useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { useZoneChoice } from './components/local-time.ts';
import { ErrorNote, Loading } from './components/ui.tsx';
import { useDocumentTitle, useFocusHeadingOnNavigation, usePageTitle } from './components/use-page-focus.ts';
import { ZonePicker } from './components/zone-picker.tsx';
import { pages } from './routes.tsx';
import { useSession } from './session.tsx';

export function Layout() {
  const { me, signOut } = useSession();
  const [error, setError] = useState<unknown>();
  const main = useRef<HTMLElement>(null);
  useDocumentTitle(usePageTitle());
  useFocusHeadingOnNavigation(main);
  // A new zone renders the page afresh, so every time on it (and its time inputs) uses the new zone.
  const zone = useZoneChoice();
  return (
    <div className="shell">
      <header className="top">
        <a className="skip" href="#main">
          Skip to content
        </a>
        <h1 className="brand">Flotilla</h1>
        <nav aria-label="Pages">
          <ul>
            {pages.map((p) =>
              p.label ? (
                <li key={p.path}>
                  <NavLink to={`/${p.path}`}>{p.label}</NavLink>
                </li>
              ) : null,
            )}
          </ul>
        </nav>
        <div className="who">
          <ZonePicker />
          <span title={`role: ${me?.role}`}>
            {me?.user ?? me?.name} <span className="muted">({me?.role})</span>
          </span>
          <button type="button" onClick={() => signOut().catch(setError)}>
            Sign out
          </button>
        </div>
      </header>
      <ErrorNote error={error} title="Sign-out failed" />
      <main id="main" tabIndex={-1} ref={main}>
        <Suspense key={zone} fallback={<Loading what="the page" />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
