import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../test/support/databases.ts';
import { type Database, openDatabase } from '../db/connection.ts';
import { busApplicationName, type ClusterBus, type ClusterNotice, createClusterBus, createLocalBus } from './bus.ts';

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('local bus', () => {
  it('delivers a notice to its own handlers at once, marked local', () => {
    const bus = createLocalBus();
    const got: Array<[ClusterNotice, boolean]> = [];
    const off = bus.subscribe('desired', (n, local) => got.push([n, local]));
    bus.publish({ kind: 'desired', environment: 'prod' });
    bus.publish({ kind: 'other' });
    expect(got).toEqual([[{ kind: 'desired', environment: 'prod' }, true]]);
    off();
    bus.publish({ kind: 'desired', environment: 'prod' });
    expect(got).toHaveLength(1);
    expect(bus.connected).toBe(true);
  });

  it('is what an SQLite store gets', async () => {
    const sqlite = openDatabase(':memory:');
    const bus = createClusterBus(sqlite);
    const got: ClusterNotice[] = [];
    bus.subscribe('x', (n) => got.push(n));
    bus.publish({ kind: 'x' });
    expect(got).toEqual([{ kind: 'x' }]);
    await bus.close();
    await sqlite.close();
  });
});

describe.skipIf(!postgresUrl)('PostgreSQL bus', () => {
  let testDb: TestDatabase;
  let stores: Database[];
  let buses: ClusterBus[];

  const open = () => {
    const store = openDatabase(testDb.location);
    stores.push(store);
    const bus = createClusterBus(store, { fallbackMs: 200, backoffMs: 50, maxBackoffMs: 200 });
    buses.push(bus);
    return bus;
  };

  beforeEach(async () => {
    testDb = await createTestDatabase('postgres');
    stores = [];
    buses = [];
  });
  afterEach(async () => {
    for (const bus of buses) await bus.close();
    for (const store of stores) await store.close();
    await testDb.drop();
  });

  it('carries a notice to the other replica once, and never echoes it to its sender', async () => {
    const a = open();
    const b = open();
    await until(() => a.connected && b.connected);
    const onA: Array<[ClusterNotice, boolean]> = [];
    const onB: Array<[ClusterNotice, boolean]> = [];
    a.subscribe('desired', (n, local) => onA.push([n, local]));
    b.subscribe('desired', (n, local) => onB.push([n, local]));
    a.publish({ kind: 'desired', environment: 'prod' });
    a.publish({ kind: 'desired', environment: 'test' });
    expect(onA).toEqual([
      [{ kind: 'desired', environment: 'prod' }, true],
      [{ kind: 'desired', environment: 'test' }, true],
    ]);
    await until(() => onB.length === 2);
    // In the order they were published, and without the sender's tag.
    expect(onB).toEqual([
      [{ kind: 'desired', environment: 'prod' }, false],
      [{ kind: 'desired', environment: 'test' }, false],
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(onA).toHaveLength(2);
  });

  it('resyncs while its connection is down and reconnects on its own', async () => {
    const a = open();
    const b = open();
    await until(() => a.connected && b.connected);
    const resyncs: number[] = [];
    b.onResync((since) => resyncs.push(since));
    const onB: ClusterNotice[] = [];
    b.subscribe('desired', (n) => onB.push(n));

    const cutAt = Date.now();
    const admin = new pg.Client({ connectionString: testDb.location });
    await admin.connect();
    try {
      const cut = await admin.query(
        'select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and application_name = $1',
        [busApplicationName],
      );
      expect(cut.rows).toHaveLength(2);
    } finally {
      await admin.end();
    }
    // Down: "everything may have changed", with when it went down; then back up with one more.
    await until(() => resyncs.length > 0);
    expect(resyncs[0]).toBeGreaterThanOrEqual(cutAt - 50);
    await until(() => a.connected && b.connected);
    const before = resyncs.length;
    a.publish({ kind: 'desired', environment: 'prod' });
    await until(() => onB.length === 1);
    expect(onB[0]).toEqual({ kind: 'desired', environment: 'prod' });
    // Connected again: no more fallback resyncs.
    await new Promise((r) => setTimeout(r, 500));
    expect(resyncs.length).toBe(before);
  });
});
