import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
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
