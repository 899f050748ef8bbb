import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import { InstanceKeys } from '../checkin/instance-keys.ts';
import { startMaintenance } from '../maintenance.ts';
import { buildLogPath } from './log-file.ts';
import { finishBuild, insertBuild, listBuilds } from './store.ts';

const day = 86_400_000;
const source = { name: 'app', url: 'https://git.example.com/app.git', ref: 'main' };

describeEachStore(allStoreKinds)('build retention in maintenance on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('deletes builds that ended before the retention, with their logs, and keeps the rest', async () => {
    const db = handle.current.db;
    const dataDir = makeTempDir('flotilla-build-retention-');
    const t0 = Date.UTC(2026, 0, 1);
    const at = (ms: number) => new Date(ms).toISOString();
    const job = async (endedAt: number | null) => {
      const b = await insertBuild(
        db,
        {
          kind: 'version',
          service: 'web',
          from: null,
          consumer: null,
          version: null,
          sources: [source],
          macros: {},
          privateFiles: [],
          setDesired: null,
          requestedBy: 'dev',
        },
        at(t0),
      );
      const log = buildLogPath(dataDir, b.id);
      mkdirSync(dirname(log), { recursive: true });
      writeFileSync(log, `log of ${b.id}\n`);
      if (endedAt !== null) await finishBuild(db, b.id, ['queued'], { state: 'failed', at: at(endedAt), error: 'x' });
      return b.id;
    };
    const old = await job(t0 + day);
    const recent = await job(t0 + 5 * day);
    const waiting = await job(null);
    const m = startMaintenance({
      db,
      apps: { list: () => [] } as unknown as AppRegistry,
      instanceKeys: new InstanceKeys(db),
      rawRetentionMs: day,
      logger: pino({ level: 'silent' }),
      dataDir,
      buildRetentionMs: 3 * day,
      now: () => t0 + 4 * day + 1,
      intervalMs: 3_600_000,
    });
    await m.stop();
    const left = (await listBuilds(db, {})).map((b) => b.id).sort();
    expect(left).toEqual([recent, waiting].sort());
    expect(existsSync(buildLogPath(dataDir, old))).toBe(false);
    expect(existsSync(buildLogPath(dataDir, recent))).toBe(true);
    expect(existsSync(buildLogPath(dataDir, waiting))).toBe(true);
  });
});
