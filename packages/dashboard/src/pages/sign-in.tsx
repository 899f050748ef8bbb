import { type FormEvent, useState } from 'react';
import { ErrorNote } from '../components/ui.tsx';
import { useSession } from '../session.tsx';

export function SignInPage() {
  const { signIn } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(name, password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="sign-in" id="main">
      <h1>Flotilla</h1>
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
        <p className="muted">
          No account yet? An admin creates one with <code>flotilla user add &lt;name&gt; --role developer</code>.
        </p>
      </form>
    </main>
  );
}
