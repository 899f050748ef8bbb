import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { isVersionPinned, pinnedRevisions } from './pins.ts';

describeEachStore(allStoreKinds)('version pins on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('pins versions named by the latest revisions of any environment, and only those', async () => {
    const db = handle.current.db;
    const now = new Date().toISOString();
    await db
      .insertInto('environments')
      .values([
        { name: 'test', requires_tested_in: null, created_at: now, created_by: 't' },
        { name: 'prod', requires_tested_in: null, created_at: now, created_by: 't' },
      ])
      .execute();
    const revisions = Array.from({ length: pinnedRevisions + 2 }, (_, i) => ({
      env: 'test',
      revision: i + 1,
      versions: JSON.stringify({ web: `1.0.${i + 1}` }),
      author: 't',
      comment: null,
      created_at: now,
    }));
    await db.insertInto('desired_revisions').values(revisions).execute();
    await db
      .insertInto('desired_revisions')
      .values({ env: 'prod', revision: 1, versions: '{"web":"1.0.1"}', author: 't', comment: null, created_at: now })
      .execute();
    // test's revisions 1 and 2 fell out of its window, but prod still names 1.0.1.
    expect(await isVersionPinned(db, 'web', '1.0.1')).toBe(true);
    expect(await isVersionPinned(db, 'web', '1.0.2')).toBe(false);
    expect(await isVersionPinned(db, 'web', '1.0.3')).toBe(true);
    expect(await isVersionPinned(db, 'web', `1.0.${pinnedRevisions + 2}`)).toBe(true);
    expect(await isVersionPinned(db, 'api', '1.0.3')).toBe(false);
  });
});
