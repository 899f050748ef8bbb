import { Suspense, useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { ErrorNote, Loading } from './components/ui.tsx';
import { pages } from './routes.tsx';
import { useSession } from './session.tsx';

export function Layout() {
  const { me, signOut } = useSession();
  const [error, setError] = useState<unknown>();
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
          <span title={`role: ${me?.role}`}>
            {me?.user ?? me?.name} <span className="muted">({me?.role})</span>
          </span>
          <button type="button" onClick={() => signOut().catch(setError)}>
            Sign out
          </button>
        </div>
      </header>
      <ErrorNote error={error} title="Sign-out failed" />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="the page" />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
