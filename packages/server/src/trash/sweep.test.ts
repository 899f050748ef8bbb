import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { createCatalogService } from '../catalog/service.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import { InstanceKeys } from '../checkin/instance-keys.ts';
import { startMaintenance } from '../maintenance.ts';
import { listTrash } from './store.ts';

const dev: Principal = { tokenId: 't1', name: 'dev', role: 'developer' };
const day = 86_400_000;

describeEachStore(allStoreKinds)('the trash sweep in maintenance on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('purges what was deleted longer ago than the retention, and audits it', async () => {
    const db = handle.current.db;
    const dataDir = makeTempDir('flotilla-trash-sweep-');
    const t0 = Date.UTC(2026, 0, 1);
    let now = t0;
    const catalog = createCatalogService({ db, dataDir, now: () => new Date(now) });
    await catalog.createService(dev, { name: 'old' });
    await catalog.deleteService(dev, 'old');
    now = t0 + 2 * day;
    await catalog.createService(dev, { name: 'new' });
    await catalog.deleteService(dev, 'new');
    const m = startMaintenance({
      db,
      apps: { list: () => [] } as unknown as AppRegistry,
      instanceKeys: new InstanceKeys(db),
      rawRetentionMs: day,
      logger: pino({ level: 'silent' }),
      dataDir,
      trashRetentionMs: 3 * day,
      now: () => now,
      intervalMs: 3_600_000,
    });
    await m.stop();
    now = t0 + 3 * day + 1;
    await m.runOnce();
    expect((await listTrash(db)).map((r) => r.name)).toEqual(['new']);
    const purges = await db
      .selectFrom('audit_log')
      .select(['action', 'actor', 'target'])
      .where('action', '=', 'service.purge')
      .execute();
    expect(purges).toEqual([{ action: 'service.purge', actor: 'token:trash-retention', target: 'service:old' }]);
  });
});
