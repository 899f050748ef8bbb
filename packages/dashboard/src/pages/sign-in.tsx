import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client.ts';
import { ErrorNote, Loading } from '../components/ui.tsx';
import { useDocumentTitle } from '../components/use-page-focus.ts';
import { useSession } from '../session.tsx';

type SetupState = Awaited<ReturnType<typeof api.setupStatus>>['state'];

/** Sign-in, or on the very first visit (the server has no user yet) creating the first admin. */
export function SignInPage() {
  // undefined while the server is asked whether setup is pending.
  const [setup, setSetup] = useState<SetupState | undefined>(undefined);
  const checkSetup = useCallback(() => {
    api.setupStatus().then(
      (s) => setSetup(s.state),
      () => setSetup('done'),
    );
  }, []);
  useEffect(checkSetup, [checkSetup]);
  useDocumentTitle(setup === 'pending' ? 'Create the first admin' : 'Sign in');
  return (
    <main className="sign-in" id="main">
      <h1>Flotilla</h1>
      {setup === undefined ? (
        <Loading what="the sign-in page" />
      ) : setup === 'pending' ? (
        <SetupForm onSetupOver={checkSetup} />
      ) : setup === 'closed' ? (
        <SetupClosed onCheckAgain={checkSetup} />
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

interface Credentials {
  name: string;
  password: string;
}

/** The user name and password of both forms; a new password (the first admin's) shows its rule. */
function CredentialFields({
  value,
  onChange,
  newPassword = false,
}: {
  value: Credentials;
  onChange: (value: Credentials) => void;
  newPassword?: boolean;
}) {
  return (
    <>
      <label>
        User name
        <input
          name="name"
          autoComplete="username"
          required
          value={value.name}
          onChange={(e) => onChange({ ...value, name: e.target.value })}
        />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete={newPassword ? 'new-password' : 'current-password'}
          required
          minLength={newPassword ? 12 : undefined}
          aria-describedby={newPassword ? 'password-rule' : undefined}
          value={value.password}
          onChange={(e) => onChange({ ...value, password: e.target.value })}
        />
      </label>
      {newPassword ? (
        <p className="muted" id="password-rule">
          At least 12 characters.
        </p>
      ) : null}
    </>
  );
}

function SignInForm() {
  const { signIn } = useSession();
  const [credentials, setCredentials] = useState<Credentials>({ name: '', password: '' });
  const { busy, error, submit } = useSubmit(() => signIn(credentials.name, credentials.password));
  return (
    <form onSubmit={submit} aria-label="Sign in">
      <h2>Sign in</h2>
      <CredentialFields value={credentials} onChange={setCredentials} />
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
  const [credentials, setCredentials] = useState<Credentials>({ name: '', password: '' });
  const { busy, error, submit } = useSubmit(
    () => completeSetup(code, credentials.name, credentials.password),
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
      <CredentialFields value={credentials} onChange={setCredentials} newPassword />
      <ErrorNote error={error} title="Could not create the admin" />
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create admin and sign in'}
      </button>
    </form>
  );
}

/** No user exists and the setup code no longer works: only the server's operator can go on. */
function SetupClosed({ onCheckAgain }: { onCheckAgain: () => void }) {
  return (
    <section aria-label="The setup code no longer works">
      <h2>The setup code no longer works</h2>
      <p>
        Nobody can sign in yet, and the setup code the server printed has expired or was voided after too many wrong
        tries. On the server host, either:
      </p>
      <ul>
        <li>
          restart the server: it prints a new <code>setup code: …</code> line, to enter here; or
        </li>
        <li>
          create an admin against its store:{' '}
          <code>flotilla user add &lt;name&gt; --role admin --data-dir &lt;data dir&gt;</code> (it prints a generated
          password once), then sign in here.
        </li>
      </ul>
      <button type="button" onClick={onCheckAgain}>
        Check again
      </button>
    </section>
  );
}
