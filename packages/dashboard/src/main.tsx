import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { getEarly } from './api/client.ts';
import { ErrorNote } from './components/ui.tsx';
import { Layout } from './layout.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { pages } from './routes.tsx';
import { SessionProvider, useSession } from './session.tsx';
import './styles.css';

function App() {
  const { me, error } = useSession();
  if (me === undefined) return <p className="muted">Loading…</p>;
  if (me === null) {
    return (
      <>
        <ErrorNote error={error} title="The server could not be asked who you are" />
        <SignInPage />
      </>
    );
  }
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/usage" replace />} />
        {pages.map((p) => (
          <Route key={p.path} path={p.path} element={p.element} />
        ))}
        <Route path="*" element={<p>There is no page here. Pick one from the navigation.</p>} />
      </Route>
    </Routes>
  );
}

// Who is signed in (and, on the landing page, which apps there are) is asked at once, before
// React's first render rather than after it.
getEarly('/api/v1/whoami');
if (/^\/(usage\/?)?$/.test(location.pathname)) getEarly('/api/v1/apps');

// The first page's code is fetched while the session is asked for, not after it is known (the same
// chunks routes.tsx loads; the browser fetches each once).
const firstPage: Record<string, () => Promise<unknown>> = {
  '': () => import('./pages/usage/index.tsx'),
  usage: () => import('./pages/usage/index.tsx'),
  releases: () => import('./pages/releases.tsx'),
  desired: () => import('./pages/desired.tsx'),
  rollouts: () => import('./pages/rollouts.tsx'),
  fleet: () => import('./pages/fleet.tsx'),
  logs: () => import('./pages/logs.tsx'),
  faults: () => import('./pages/faults.tsx'),
  settings: () => import('./pages/settings.tsx'),
};
// A failure here is the page's own to show when it loads the chunk itself.
firstPage[location.pathname.replace(/^\/|\/$/g, '')]?.().catch(() => undefined);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <BrowserRouter>
        <SessionProvider>
          <App />
        </SessionProvider>
      </BrowserRouter>
    </StrictMode>,
  );
}
