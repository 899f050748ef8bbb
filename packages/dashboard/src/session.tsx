import type { WhoAmI } from '@flotilla/protocol';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { ApiError, api, onUnauthorized } from './api/client.ts';

interface Session {
  /** undefined while the first whoami runs; null when signed out. */
  me: WhoAmI | null | undefined;
  error: Error | undefined;
  signIn: (name: string, password: string) => Promise<void>;
  /** Creates the first admin with the setup code the server printed, and signs in as them. */
  completeSetup: (code: string, name: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<WhoAmI | null | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>();
  useEffect(() => {
    api.whoami().then(setMe, (err: Error) => {
      setMe(null);
      if (!(err instanceof ApiError && err.status === 401)) setError(err);
    });
    return onUnauthorized(() => setMe(null));
  }, []);
  const signIn = useCallback(async (name: string, password: string) => {
    setMe(await api.signIn(name, password));
    setError(undefined);
  }, []);
  const completeSetup = useCallback(async (code: string, name: string, password: string) => {
    setMe(await api.completeSetup({ code, name, password }));
    setError(undefined);
  }, []);
  const signOut = useCallback(async () => {
    await api.signOut();
    setMe(null);
  }, []);
  const value = useMemo(
    () => ({ me, error, signIn, completeSetup, signOut }),
    [me, error, signIn, completeSetup, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

const rank: Record<string, number> = { viewer: 1, developer: 2, admin: 3 };

/** Whether the signed-in user has at least `role`; the server checks again on every call. */
export function useCan(role: 'viewer' | 'developer' | 'admin'): boolean {
  const { me } = useSession();
  return (rank[me?.role ?? ''] ?? 0) >= (rank[role] ?? 9);
}
