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
    let t = Date.parse('2026-03-01T12:00:00Z');
    const accounts = createAccountsService({ db: handle.current.db, now: () => t });
    await accounts.createUser(local, { name: 'alice', role: 'admin', password });
    verified.calls = 0;
    const guesses = Array.from({ length: 200 }, (_, i) =>
      accounts.login({ name: 'alice', password: i === 60 ? password : `wrong guess number ${i}` }, '192.0.2.7'),
    );
    const results = await Promise.allSettled(guesses);
    // 5 failures per name and address are free; then each attempt waits 1 s, 2 s, 4 s … after the last.
    expect(verified.calls).toBe(5);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(0);
    const right = results[60];
    expect(right?.status === 'rejected' && right.reason).toBeInstanceOf(TooManyAttempts);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof TooManyAttempts)).toHaveLength(195);
    // Still refused within the delay, and the refusal costs no hash.
    const refused = accounts.login({ name: 'alice', password }, '192.0.2.7');
    await expect(refused).rejects.toBeInstanceOf(TooManyAttempts);
    await expect(refused).rejects.toMatchObject({ headers: { 'retry-after': '1' } });
    expect(verified.calls).toBe(5);
    // After the delay exactly one more guess is checked, and the next delay is twice as long.
    t += 1000;
    const again = Array.from({ length: 50 }, () =>
      accounts.login({ name: 'alice', password: 'wrong again' }, '192.0.2.7'),
    );
    const second = await Promise.allSettled(again);
    expect(verified.calls).toBe(6);
    expect(second.filter((r) => r.status === 'rejected' && r.reason instanceof TooManyAttempts)).toHaveLength(49);
    t += 1000;
    await expect(accounts.login({ name: 'alice', password }, '192.0.2.7')).rejects.toMatchObject({
      headers: { 'retry-after': '1' },
    });
    // Another address is not delayed: the right password works there.
    await expect(accounts.login({ name: 'alice', password }, '192.0.2.8')).resolves.toMatchObject({
      info: { kind: 'personal', user: 'alice' },
    });
    t += 1000;
    await expect(accounts.login({ name: 'alice', password }, '192.0.2.7')).resolves.toMatchObject({
      info: { user: 'alice' },
    });
  });
});
