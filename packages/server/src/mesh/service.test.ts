// Retention of mesh summaries and node states over time, on every store, with a controlled clock.
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { flagUnreachable, nodeState, partitionsOf } from './analysis.ts';
import { createMeshService } from './service.ts';
import { announceNode } from './store.ts';

const day = 24 * 3600_000;
const scope = { environment: 'production', profile: null, instanceId: 'a' };
const summary = (to: string, minute: number) => ({
  from: 'a',
  to,
  phase: 'connect' as const,
  minute,
  count: 10,
  failed: 1,
  p50: 0.0004,
  p99: 0.001,
});

describeEachStore(allStoreKinds)('mesh retention on %s', (kind) => {
  const database = useMigratedDatabase(kind);

  it('keeps summaries for the retention and no longer, and forgets long-silent nodes', async () => {
    let now = Date.UTC(2026, 0, 10, 12, 0);
    const mesh = createMeshService({
      db: database.current.db,
      dataDir: makeTempDir(),
      retentionMs: 7 * day,
      now: () => now,
    });
    await database.current.db
      .insertInto('mesh_environments')
      .values({
        environment: 'production',
        enabled: 1,
        max_peers_per_round: null,
        updated_at: now,
        updated_by: 'test',
      })
      .execute();
    for (const instance of ['a', 'b', 'c'])
      await announceNode(database.current.db, {
        instance,
        environment: 'production',
        address: '127.0.0.1:7946',
        certificateExpiresAt: now + day,
        at: now,
      });
    const minute = now - 60_000;
    expect(await mesh.report(scope, { summaries: [summary('b', minute - 6 * day), summary('c', minute)] })).toEqual({
      stored: 2,
      skipped: 0,
    });
    const count = async () =>
      (await database.current.db.selectFrom('mesh_summaries').select('to_node').orderBy('to_node').execute()).map(
        (r) => r.to_node,
      );
    expect(await mesh.prune()).toBe(0);
    now += 1.5 * day; // the summary for b is now 7.5 days old
    expect(await mesh.prune()).toBe(1);
    expect(await count()).toEqual(['c']);
    expect(await database.current.db.selectFrom('mesh_nodes').select('instance_id').execute()).toHaveLength(3);
    now += 7 * day;
    expect(await mesh.prune()).toBe(1);
    expect(await count()).toEqual([]);
    expect(await database.current.db.selectFrom('mesh_nodes').select('instance_id').execute()).toEqual([]);
  });
});

it('tells alive from stale from dead by the time since a node was last seen', () => {
  expect(nodeState(1000, 1000 + 60_000, 180_000, 900_000)).toBe('alive');
  expect(nodeState(1000, 1000 + 300_000, 180_000, 900_000)).toBe('stale');
  expect(nodeState(1000, 1000 + 901_000, 180_000, 900_000)).toBe('dead');
});

it('joins nodes by successful probes either way, and flags only a majority of failing peers', () => {
  const pair = (from: string, to: string, failed: number) => ({ from, to, count: 10, failed });
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  const totals = [pair('a', 'b', 0), pair('c', 'b', 10), pair('d', 'c', 9), pair('e', 'd', 10), pair('b', 'c', 10)];
  // d reaches c once in ten: a link, lossy as it is.
  expect(partitionsOf(nodes, totals)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  // c: probed by b and d, both losing ≥ 50 %; b: probed by a (fine) and c (failing): not a majority.
  expect([...flagUnreachable(nodes, totals)]).toEqual([['c', 'unreachable from 2 of 2 peers']]);
  // 10 % loss is not unreachable.
  expect(flagUnreachable(nodes, [pair('a', 'c', 1), pair('b', 'c', 1)]).size).toBe(0);
});
