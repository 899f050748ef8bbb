import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client.ts';
import { ErrorNote, Loading } from '../components/ui.tsx';
import { useSession } from '../session.tsx';

/** Sign-in, or on the very first visit (the server has no user yet) creating the first admin. */
export function SignInPage() {
  // undefined while the server is asked whether setup is pending.
  const [setupPending, setSetupPending] = useState<boolean | undefined>(undefined);
  const checkSetup = useCallback(() => {
    api.setupStatus().then(
      (s) => setSetupPending(s.pending),
      () => setSetupPending(false),
    );
  }, []);
  useEffect(checkSetup, [checkSetup]);
  return (
    <main className="sign-in" id="main">
      <h1>Flotilla</h1>
      {setupPending === undefined ? (
        <Loading what="the sign-in page" />
      ) : setupPending ? (
        <SetupForm onSetupOver={checkSetup} />
      ) : (
        <SignInForm />
      )}
    </main>
  );
}

function useSubmit(action: () => Promise<void>, onError?: (err: unknown) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
      onError?.(err);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, submit };
}

function SignInForm() {
  const { signIn } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, submit } = useSubmit(() => signIn(name, password));
  return (
    <form onSubmit={submit} aria-label="Sign in">
      <h2>Sign in</h2>
      <label>
        User name
        <input name="name" autoComplete="username" required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <ErrorNote error={error} title="Sign-in failed" />
      <button type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="muted">No account yet? An admin creates one under Settings → Users.</p>
    </form>
  );
}

function SetupForm({ onSetupOver }: { onSetupOver: () => void }) {
  const { completeSetup } = useSession();
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, submit } = useSubmit(
    () => completeSetup(code, name, password),
    // Someone else finished setup (or the code expired): show what the server now offers.
    (err) => err instanceof ApiError && err.status === 409 && onSetupOver(),
  );
  return (
    <form onSubmit={submit} aria-label="Create the first admin">
      <h2>Create the first admin</h2>
      <p className="muted">
        Nobody can sign in yet. When it started, the server printed a one-time <strong>setup code</strong> (the line{' '}
        <code>setup code: …</code>). It works once, for 24 hours; restarting the server prints a new one.
      </p>
      <label>
        Setup code
        <input
          name="code"
          autoComplete="off"
          autoCapitalize="characters"
          spellCheck={false}
          required
          placeholder="XXXX-XXXX-XXXX"
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
      </label>
      <label>
        User name
        <input name="name" autoComplete="username" required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={12}
          aria-describedby="setup-password-rule"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <p className="muted" id="setup-password-rule">
        At least 12 characters.
      </p>
      <ErrorNote error={error} title="Could not create the admin" />
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create admin and sign in'}
      </button>
    </form>
  );
}
