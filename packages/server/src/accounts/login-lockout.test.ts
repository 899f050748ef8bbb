import { describe, expect, it, vi } from 'vitest';
import { useMigratedDatabase } from '../../test/support/databases.ts';
import type { Principal } from '../auth/tokens.ts';
import { createAccountsService, TooManyAttempts } from './service.ts';

// Counts the slow hash checks without changing them: the real scrypt still runs.
const verified = vi.hoisted(() => ({ calls: 0 }));
vi.mock('./password.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./password.ts')>();
  return {
    ...real,
    verifyPassword: async (password: string, stored: string) => {
      verified.calls++;
      return real.verifyPassword(password, stored);
    },
  };
});

const local: Principal = { tokenId: '', name: 'test', role: 'admin', kind: 'local' };
const password = 'the right long password';

describe('login lockout', () => {
  const handle = useMigratedDatabase('sqlite');

  it('200 parallel guesses cannot beat the lockout', async () => {
    const accounts = createAccountsService({ db: handle.current.db });
    await accounts.createUser(local, { name: 'alice', role: 'admin', password });
    verified.calls = 0;
    const guesses = Array.from({ length: 200 }, (_, i) =>
      accounts.login({ name: 'alice', password: i === 60 ? password : `wrong guess number ${i}` }, '192.0.2.7'),
    );
    const results = await Promise.allSettled(guesses);
    // The default limit is 5 failures per name and address: no more hashes than that ran.
    expect(verified.calls).toBe(5);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(0);
    const right = results[60];
    expect(right?.status === 'rejected' && right.reason).toBeInstanceOf(TooManyAttempts);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof TooManyAttempts)).toHaveLength(195);
    // Still locked afterwards, and the refusal costs no hash.
    await expect(accounts.login({ name: 'alice', password }, '192.0.2.7')).rejects.toBeInstanceOf(TooManyAttempts);
    expect(verified.calls).toBe(5);
    // Another address is not locked out: the right password works there.
    await expect(accounts.login({ name: 'alice', password }, '192.0.2.8')).resolves.toMatchObject({
      info: { kind: 'personal', user: 'alice' },
    });
  });
});
