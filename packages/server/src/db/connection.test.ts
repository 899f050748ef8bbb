import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { openDatabase } from './connection.ts';
import { migrateToLatest } from './migrate.ts';

describe('SQLite commitDurably', () => {
  it('commits the work, answers its result, and leaves other writers on synchronous=FULL', async () => {
    const database = openDatabase(join(makeTempDir('flotilla-conn-'), 'a.db'));
    try {
      await migrateToLatest(database.db);
      const synchronous = async () =>
        (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(database.db)).rows[0]?.synchronous;
      expect(await synchronous()).toBe(2);
      const row = {
        time: 1,
        app: 'a',
        app_version: 'v1',
        country_iso_code: '',
        country: '',
        city: '',
        tags: '{}',
        fields: '{}',
      };
      const answer = await database.commitDurably(async (tx) => {
        await tx.insertInto('checkins').values(row).execute();
        return 'done';
      });
      expect(answer).toBe('done');
      await expect(
        database.commitDurably(async (tx) => {
          await tx
            .insertInto('checkins')
            .values({ ...row, time: 2 })
            .execute();
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      expect(await synchronous()).toBe(2);
      const times = await database.db.selectFrom('checkins').select('time').execute();
      expect(times.map((t) => Number(t.time))).toEqual([1]);
    } finally {
      await database.close();
    }
  });

  it('acknowledges nothing more after a failed WAL sync, and says the server needs a restart', async () => {
    let syncs = 0;
    const database = openDatabase(join(makeTempDir('flotilla-conn-'), 'b.db'), {
      syncWal: async () => {
        syncs += 1;
        if (syncs === 2) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
    });
    try {
      await migrateToLatest(database.db);
      const commit = () => database.commitDurably(async () => 'done');
      expect(await commit()).toBe('done');
      await expect(commit()).rejects.toThrow('EIO');
      await expect(commit()).rejects.toThrow(/could not be synced \(EIO.*restart the server/);
      await expect(database.ping()).rejects.toThrow('restart the server');
      // The refused commit never reached the disk sync.
      expect(syncs).toBe(2);
    } finally {
      await database.close();
    }
  });
});
