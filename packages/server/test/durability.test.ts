import { tmpdir } from 'node:os';
import { afterEach, expect, it } from 'vitest';
import { removeStaleSocketDirs } from '../src/checkin-threads/stale-socket-dirs.ts';
import { openDatabase } from '../src/db/connection.ts';
import { allStoreKinds, createTestDatabase, describeEachStore, type TestDatabase } from './support/databases.ts';
import { writeTemp } from './support/server.ts';
import { spawnServer } from './support/spawn-server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const schema = { extraFieldInfoSchema: { seq: { dataType: 'float' } } };

/** Sends check-ins with unique sequence numbers from `workers` loops until a request fails; returns the acknowledged ones. */
async function loadUntilFailure(url: string, workers: number, maxPerWorker: number): Promise<number[]> {
  const acknowledged: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < maxPerWorker; i++) {
        const seq = next++;
        try {
          const res = await fetch(`${url}/v1/checkupgrade`, {
            method: 'POST',
            body: JSON.stringify({ appVersion: 'v1.0.0', extraFieldInfo: { seq } }),
          });
          // An answer marked unstored (the store could not take it) is not an acknowledgement.
          if (res.status !== 200 || res.headers.has('flotilla-unstored')) return;
          await res.arrayBuffer();
          acknowledged.push(seq);
        } catch {
          return;
        }
      }
    }),
  );
  return acknowledged;
}

async function storedSequences(location: string): Promise<{ seqs: Set<number>; rows: number; rollupTotal: number }> {
  const db = openDatabase(location);
  try {
    const rows = await db.db.selectFrom('checkins').select('fields').execute();
    const totals = await db.db
      .selectFrom('usage_rollups')
      .select('checkins')
      .where('dimension', '=', 'total')
      .execute();
    return {
      seqs: new Set(rows.map((r) => JSON.parse(r.fields).seq as number)),
      rows: rows.length,
      rollupTotal: totals.reduce((n, r) => n + Number(r.checkins), 0),
    };
  } finally {
    await db.close();
  }
}

describeEachStore(allStoreKinds)('no acknowledged check-in is lost on %s', (kind) => {
  let testDb: TestDatabase;
  afterEach(async () => {
    await testDb?.drop();
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('when the server gets %s under load', async (signal) => {
    testDb = await createTestDatabase(kind);
    const dir = makeTempDir('flotilla-kill-');
    const server = await spawnServer([
      '--data-dir',
      dir,
      '--database',
      testDb.location,
      '--request-schema',
      writeTemp(dir, 'schema.json', schema),
      '--rate-limit',
      '0',
      '--geodb',
      'off',
    ]);
    const load = loadUntilFailure(server.url, 32, 5000);
    // Let the load build up, then stop the server while requests are in flight.
    await new Promise((r) => setTimeout(r, 1500));
    server.child.kill(signal);
    const acknowledged = await load;
    const { code } = await server.exited;
    if (signal === 'SIGTERM') expect(code).toBe(0);
    // A killed server leaves its private socket folder; the next one to start removes it, as here.
    else await removeStaleSocketDirs(tmpdir());
    expect(acknowledged.length).toBeGreaterThan(200);
    const stored = await storedSequences(testDb.location);
    const missing = acknowledged.filter((s) => !stored.seqs.has(s));
    expect(missing).toEqual([]);
    // Rollups are committed with the records, so they agree exactly.
    expect(stored.rollupTotal).toBe(stored.rows);
  });
});
