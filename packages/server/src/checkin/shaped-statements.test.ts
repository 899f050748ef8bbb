import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { executeShaped } from './shaped-statements.ts';

const row = (n: number) => ({
  time: n,
  app: 'shaped',
  app_version: `v${n}`,
  country_iso_code: '',
  country: '',
  city: '',
  tags: '{}',
  fields: '{}',
});

describeEachStore(allStoreKinds)('executeShaped on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const versions = async () =>
    (await handle.current.db.selectFrom('checkins').select('app_version').orderBy('time').execute()).map(
      (r) => r.app_version,
    );

  it('binds new values to a shape built before, and builds each row count once', async () => {
    const db = handle.current.db;
    let builds = 0;
    const insert = (rows: ReturnType<typeof row>[]) =>
      executeShaped(db, 'test-checkins', rows, (r) => {
        builds += 1;
        return db.insertInto('checkins').values(r);
      });
    await insert([row(1), row(2)]);
    await insert([row(3), row(4)]);
    await insert([row(5)]);
    expect(await versions()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
    expect(builds).toBe(2);
  });

  it('never reuses a shape whose values Kysely binds in another order', async () => {
    const db = handle.current.db;
    let builds = 0;
    // Rows whose keys run in another order than the columns the builder writes.
    const reversed = (n: number) => Object.fromEntries(Object.entries(row(n)).reverse()) as ReturnType<typeof row>;
    const insert = (rows: ReturnType<typeof row>[]) =>
      executeShaped(db, 'test-reordered', rows, (r) => {
        builds += 1;
        return db.insertInto('checkins').values(r.map((x) => ({ ...row(0), ...x })));
      });
    await insert([reversed(6)]);
    await insert([reversed(7)]);
    expect(await versions()).toEqual(['v6', 'v7']);
    expect(builds).toBe(2);
  });
});
