import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { createAccountsService } from '../accounts/service.ts';
import type { Principal } from '../auth/tokens.ts';
import { SetupGate } from './gate.ts';

const local: Principal = { tokenId: '', name: 'test', role: 'admin', kind: 'local' };
const password = 'a long enough password';

describeEachStore(allStoreKinds)('the setup gate on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const gate = (opts: Partial<ConstructorParameters<typeof SetupGate>[0]> = {}) =>
    new SetupGate({ db: handle.current.db, ...opts });

  it('creates the first admin once, with the right code only', async () => {
    const setup = gate();
    const code = (await setup.open()) as string;
    expect(await setup.state()).toBe('pending');
    await expect(setup.complete({ code: 'AAAA-AAAA-AAAA', name: 'root', password }, '10.0.0.1')).rejects.toThrow(
      'wrong setup code',
    );
    const user = await setup.complete({ code: code.toLowerCase(), name: 'root', password }, '10.0.0.1');
    expect(user).toMatchObject({ name: 'root', role: 'admin', disabled: false });
    expect(await setup.state()).toBe('done');
    await expect(setup.complete({ code, name: 'second', password }, '10.0.0.1')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('a user exists'),
    });
    const audit = await handle.current.db.selectFrom('audit_log').selectAll().execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'root', action: 'user.create', target: 'user:root' });
    expect(audit[0]?.after_json).toContain('"via":"setup code"');
  });

  it('is closed before a code is made, and says what to do', async () => {
    const setup = gate();
    expect(await setup.state()).toBe('closed');
    await expect(setup.complete({ code: 'AAAA-AAAA-AAAA', name: 'root', password }, '10.0.0.1')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('flotilla user add <name> --role admin --data-dir <data dir>'),
    });
    await setup.open();
    expect(await setup.state()).toBe('pending');
  });

  it('makes no code when a user exists, and closes when one is made another way', async () => {
    const accounts = createAccountsService({ db: handle.current.db });
    const setup = gate();
    const code = (await setup.open()) as string;
    await accounts.createUser(local, { name: 'ops', role: 'admin', password });
    expect(await setup.state()).toBe('done');
    await expect(setup.complete({ code, name: 'root', password }, '10.0.0.1')).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await gate().open()).toBeNull();
  });

  it('keeps the code when the password breaks the rules, so the visitor can try again', async () => {
    const setup = gate();
    const code = (await setup.open()) as string;
    await expect(setup.complete({ code, name: 'root', password: 'short' }, '10.0.0.1')).rejects.toMatchObject({
      code: 'invalid',
    });
    expect(await setup.state()).toBe('pending');
    await expect(setup.complete({ code, name: 'root', password }, '10.0.0.1')).resolves.toMatchObject({ name: 'root' });
  });

  it('limits wrong codes per address, and voids the code after too many in all', async () => {
    let now = 1_000_000;
    const setup = gate({ now: () => now, failuresPerAddress: 3, maxFailures: 6 });
    const code = (await setup.open()) as string;
    const attempt = (address: string, c = 'WRONG-CODE-22') =>
      setup.complete({ code: c, name: 'root', password }, address);
    for (let i = 0; i < 3; i++) await expect(attempt('10.0.0.1')).rejects.toMatchObject({ code: 'unauthorized' });
    // Even the right code waits: the address is locked out.
    await expect(attempt('10.0.0.1', code)).rejects.toMatchObject({ code: 'rate_limited' });
    now += 15 * 60_000;
    await expect(attempt('10.0.0.1')).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(attempt('10.0.0.2')).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await setup.state()).toBe('pending');
    await expect(attempt('10.0.0.3', code)).resolves.toMatchObject({ name: 'root' });

    const other = gate({ failuresPerAddress: 100, maxFailures: 5 });
    await handle.current.db.deleteFrom('audit_log').execute();
    await handle.current.db.deleteFrom('users').execute();
    const second = (await other.open()) as string;
    for (let i = 0; i < 5; i++) {
      await expect(other.complete({ code: 'WRONG-CODE-22', name: 'x', password }, `10.1.0.${i}`)).rejects.toThrow();
    }
    expect(await other.state()).toBe('closed');
    await expect(other.complete({ code: second, name: 'root', password }, '10.2.0.1')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('5 wrong setup codes were tried'),
    });
  });

  it('expires after its time, and a new start makes a new code that replaces the old one', async () => {
    let now = 1_000_000;
    const setup = gate({ now: () => now, ttlMs: 60_000 });
    const first = (await setup.open()) as string;
    now += 60_000;
    expect(await setup.state()).toBe('closed');
    await expect(setup.complete({ code: first, name: 'root', password }, '10.0.0.1')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('expired'),
    });
    const restarted = gate({ now: () => now });
    const second = (await restarted.open()) as string;
    expect(second).not.toBe(first);
    await expect(restarted.complete({ code: first, name: 'root', password }, '10.0.0.1')).rejects.toMatchObject({
      code: 'unauthorized',
    });
    await expect(restarted.complete({ code: second, name: 'root', password }, '10.0.0.1')).resolves.toBeTruthy();
  });

  it('lets only one of two simultaneous right answers create an admin', async () => {
    const setup = gate();
    const code = (await setup.open()) as string;
    const results = await Promise.allSettled([
      setup.complete({ code, name: 'one', password }, '10.0.0.1'),
      setup.complete({ code, name: 'two', password }, '10.0.0.2'),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await handle.current.db.selectFrom('users').select('name').execute()).toHaveLength(1);
  });
});
