import { expect, it } from 'vitest';
import { describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { resolveServerConfig } from '../config/config.ts';
import { createDriftService, defaultRemoveAfterMs, defaultStaleAfterMs } from './service.ts';

const t0 = Date.parse('2026-03-01T12:00:00Z');
const payload = (agentId: string) => ({
  agentId,
  agentTags: null,
  version: {
    id: 'nginx',
    namespace: '',
    versions: [{ runningVersion: '1.25.3', resourceCount: 1 }],
    remoteVersion: { provider: '', strategy: '', repo: '', chart: '', constraint: '' },
  },
});

describeEachStore(['sqlite'] as const)('drift service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it("reads Opvic's zero values as unset", async () => {
    const drift = createDriftService({ db: handle.current.db, now: () => t0 });
    await drift.ingest('prod', payload('host-1'));
    const [item] = (await drift.list({ limit: 10 })).items;
    expect(item).toMatchObject({ environment: 'prod', place: 'host-1', namespace: null, tags: {}, upstream: null });
    expect(item?.reportedAt).toBe('2026-03-01T12:00:00.000Z');
  });

  it('runs expiry at once and on its timer, and stop waits for the run under way', async () => {
    let now = t0;
    const drift = createDriftService({ db: handle.current.db, now: () => now });
    await drift.ingest('prod', payload('host-1'));
    await drift.ingest('prod', payload('host-2'));
    now = t0 + defaultStaleAfterMs + 1;
    const errors: unknown[] = [];
    const stop = drift.startExpiry((err) => errors.push(err), 20);
    await stop();
    expect((await drift.list({ limit: 10 })).items.map((i) => i.staleSince)).toEqual([
      new Date(now).toISOString(),
      new Date(now).toISOString(),
    ]);

    // Nothing is old enough to remove at start; only a timer run after `now` moves on removes both.
    const stop2 = drift.startExpiry((err) => errors.push(err), 20);
    await new Promise((r) => setTimeout(r, 10));
    expect((await drift.list({ limit: 10 })).items).toHaveLength(2);
    now += defaultRemoveAfterMs;
    await new Promise((r) => setTimeout(r, 100));
    await stop2();
    expect((await drift.list({ limit: 10 })).items).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('takes the stale and removal periods from the server options', async () => {
    const flags = { dataDir: '/nonexistent', driftStaleAfter: '2m' };
    const config = resolveServerConfig(flags, { FLOTILLA_DRIFT_REMOVE_AFTER: '1h' }, '/');
    expect([config.driftStaleAfterMs, config.driftRemoveAfterMs]).toEqual([120_000, 3_600_000]);
    const defaults = resolveServerConfig({ dataDir: '/nonexistent' }, {}, '/');
    expect([defaults.driftStaleAfterMs, defaults.driftRemoveAfterMs]).toEqual([
      defaultStaleAfterMs,
      defaultRemoveAfterMs,
    ]);
    expect(() => resolveServerConfig({ ...flags, driftRemoveAfter: '1m' }, {}, '/')).toThrow(/drift-remove-after/);
    expect(() => resolveServerConfig({ ...flags, driftStaleAfter: 'soon' }, {}, '/')).toThrow(/driftStaleAfter/);

    let now = t0;
    const drift = createDriftService({
      db: handle.current.db,
      now: () => now,
      staleAfterMs: 120_000,
      removeAfterMs: 3_600_000,
    });
    await drift.ingest('prod', payload('host-1'));
    now = t0 + 120_001;
    expect(await drift.expire()).toEqual({ stale: 1, removed: 0 });
    now = t0 + 3_600_001;
    expect(await drift.expire()).toEqual({ stale: 0, removed: 1 });
  });
});
