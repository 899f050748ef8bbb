import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { openDatabase } from './connection.ts';
import { migrateToLatest } from './migrate.ts';

const checkin = (time: number, app: string) => ({
  time,
  app,
  app_version: 'v1',
  country_iso_code: '',
  country: '',
  city: '',
  tags: '{}',
  fields: '{}',
});

describe('SQLite commitDurably', () => {
  it('commits the work, answers its result, and leaves other writers on synchronous=FULL', async () => {
    const database = openDatabase(join(makeTempDir('flotilla-conn-'), 'a.db'));
    try {
      await migrateToLatest(database.db);
      const synchronous = async () =>
        (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(database.db)).rows[0]?.synchronous;
      expect(await synchronous()).toBe(2);
      const row = checkin(1, 'a');
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

  it('answers a pipelined commit before its sync, and lets commits made meanwhile share the next sync', async () => {
    const syncs: Array<() => void> = [];
    const database = openDatabase(join(makeTempDir('flotilla-conn-'), 'c.db'), {
      syncWal: () => new Promise<void>((resolve) => syncs.push(resolve)),
    });
    try {
      await migrateToLatest(database.db);
      const order: string[] = [];
      const first = await database.commitPipelined(async () => 'first');
      expect(first.result).toBe('first');
      void first.durable.then(() => order.push('first durable'));
      // The first sync is still running: the next commits go ahead and wait for one sync together.
      await new Promise((r) => setTimeout(r, 20));
      expect(syncs).toHaveLength(1);
      const second = await database.commitPipelined(async () => 'second');
      const third = await database.commitPipelined(async () => 'third');
      void second.durable.then(() => order.push('second durable'));
      void third.durable.then(() => order.push('third durable'));
      expect(order).toEqual([]);
      syncs[0]?.();
      await first.durable;
      await new Promise((r) => setTimeout(r, 20));
      expect(order).toEqual(['first durable']);
      expect(syncs).toHaveLength(2);
      syncs[1]?.();
      await Promise.all([second.durable, third.durable]);
      expect(order).toEqual(['first durable', 'second durable', 'third durable']);
      expect(syncs).toHaveLength(2);
    } finally {
      for (const release of syncs) release();
      await database.close();
    }
  });

  it('fails every commit waiting on a sync that failed, and refuses the next', async () => {
    let release: ((err?: Error) => void) | undefined;
    const database = openDatabase(join(makeTempDir('flotilla-conn-'), 'd.db'), {
      syncWal: () =>
        new Promise<void>((resolve, reject) => {
          release = (err) => (err ? reject(err) : resolve());
        }),
    });
    try {
      await migrateToLatest(database.db);
      const a = await database.commitPipelined(async () => 'a');
      const b = await database.commitPipelined(async () => 'b');
      const failures = Promise.allSettled([a.durable, b.durable]);
      while (!release) await new Promise((r) => setTimeout(r, 5));
      release(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      const settled = await failures;
      expect(settled.every((s) => s.status === 'rejected')).toBe(true);
      await expect(database.commitPipelined(async () => 'c')).rejects.toThrow('restart the server');
    } finally {
      await database.close();
    }
  });
});

describeEachStore(allStoreKinds)('writeOne on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('answers the statement once it is durable, alone on PostgreSQL and through the group sync on SQLite', async () => {
    const database = handle.current;
    const row = checkin(7, 'w');
    await database.writeOne((db) => db.insertInto('checkins').values(row).execute());
    const stored = await database.db.selectFrom('checkins').select('app').where('time', '=', 7).execute();
    expect(stored).toEqual([{ app: 'w' }]);
    if (kind === 'sqlite') {
      expect(database.writeOne).toBe(database.commitDurably);
      return;
    }
    // now() is when the transaction began: after a BEGIN it is earlier than the statement's own start.
    const alone = sql<{ alone: boolean }>`select now() = statement_timestamp() as alone`;
    expect((await database.writeOne((db) => alone.execute(db))).rows[0]?.alone).toBe(true);
    expect((await database.commitDurably((tx) => alone.execute(tx))).rows[0]?.alone).toBe(false);
  });
});
