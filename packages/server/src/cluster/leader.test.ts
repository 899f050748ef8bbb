import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../test/support/databases.ts';
import { type Database, openDatabase } from '../db/connection.ts';
import { electLeader, type Leadership, leaderApplicationName } from './leader.ts';

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('leader on SQLite', () => {
  it('is always this process', async () => {
    const store = openDatabase(':memory:');
    const leader = electLeader(store);
    expect(leader.isLeader()).toBe(true);
    await leader.close();
    await store.close();
  });
});

describe.skipIf(!postgresUrl)('leader on PostgreSQL', () => {
  let testDb: TestDatabase;
  let stores: Database[];
  let leaders: Leadership[];

  const elect = () => {
    const store = openDatabase(testDb.location);
    stores.push(store);
    const leader = electLeader(store, { retryMs: 200 });
    leaders.push(leader);
    return leader;
  };

  beforeEach(async () => {
    testDb = await createTestDatabase('postgres');
    stores = [];
    leaders = [];
  });
  afterEach(async () => {
    for (const leader of leaders) await leader.close();
    for (const store of stores) await store.close();
    await testDb.drop();
  });

  it('makes exactly one of two the leader, and the other takes over when it closes', async () => {
    const a = elect();
    const b = elect();
    await until(() => a.isLeader() || b.isLeader());
    // Both have tried by now: still exactly one.
    await new Promise((r) => setTimeout(r, 500));
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const [holder, other] = a.isLeader() ? [a, b] : [b, a];
    const changes: boolean[] = [];
    other.onChange((now) => changes.push(now));
    await holder.close();
    expect(holder.isLeader()).toBe(false);
    await until(() => other.isLeader(), 2000);
    expect(changes).toEqual([true]);
  });

  it('hands over when the holder loses its session (pg_terminate_backend)', async () => {
    const a = elect();
    const b = elect();
    await until(() => a.isLeader() || b.isLeader());
    await new Promise((r) => setTimeout(r, 300));
    const [holder, other] = a.isLeader() ? [a, b] : [b, a];
    const admin = new pg.Client({ connectionString: testDb.location });
    await admin.connect();
    try {
      // The session that holds the advisory lock, whichever replica it belongs to.
      const cut = await admin.query(
        `select pg_terminate_backend(l.pid) as ok from pg_locks l join pg_stat_activity s on s.pid = l.pid
         where l.locktype = 'advisory' and l.granted and s.datname = current_database() and s.application_name = $1`,
        [leaderApplicationName],
      );
      expect(cut.rows).toHaveLength(1);
    } finally {
      await admin.end();
    }
    await until(() => !holder.isLeader(), 2000);
    await until(() => other.isLeader(), 5000);
    // The old holder reconnects as a follower: one leader still.
    await new Promise((r) => setTimeout(r, 600));
    expect(holder.isLeader()).toBe(false);
  });
});
