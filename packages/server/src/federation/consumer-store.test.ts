import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import * as store from './consumer-store.ts';
import { listReceived, receivedServices, recordReceived } from './received-store.ts';

describeEachStore(allStoreKinds)('federation stores (%s)', (kind) => {
  const holder = useMigratedDatabase(kind);

  it('keeps consumers by token digest, revokes once, and keeps only the latest report', async () => {
    const db = holder.current.db;
    const row = {
      name: 'acme',
      profile: 'partner',
      description: '',
      test_consumer: null,
      token_hash: 'a'.repeat(64),
      created_by: 'admin',
      created_at: '2026-01-01T00:00:00.000Z',
      last_seen_at: null,
      revoked_at: null,
      settings_urls: null,
    };
    await store.insertConsumer(db, row);
    await expect(store.insertConsumer(db, { ...row, name: 'other' })).rejects.toThrow();
    expect((await store.consumerByTokenHash(db, 'a'.repeat(64)))?.name).toBe('acme');
    await store.revokeConsumer(db, 'acme', '2026-01-02T00:00:00.000Z');
    await store.revokeConsumer(db, 'acme', '2026-01-03T00:00:00.000Z');
    expect((await store.getConsumer(db, 'acme'))?.revoked_at).toBe('2026-01-02T00:00:00.000Z');
    await store.putReport(db, 'acme', '{"n":1}', '2026-01-01T00:00:00.000Z');
    await store.putReport(db, 'acme', '{"n":2}', '2026-01-01T00:00:01.000Z');
    expect(await store.getReport(db, 'acme')).toEqual({ report: '{"n":2}', received_at: '2026-01-01T00:00:01.000Z' });
    const before = await store.catalogFingerprint(db);
    await db.insertInto('profiles').values({ name: 'p', updated_at: '2026-01-01T00:00:00.000Z' }).execute();
    expect(await store.catalogFingerprint(db)).not.toBe(before);
  });

  it('records where received versions came from, once each', async () => {
    const db = holder.current.db;
    const row = {
      service: 'web',
      version: '1.0.0',
      provider_url: 'http://127.0.0.1:1',
      provider_digest: `sha256:${'b'.repeat(64)}`,
      provider_key_id: 'k',
      provider_published_at: '2026-01-01T00:00:00.000Z',
      received_at: '2026-01-01T00:00:01.000Z',
    };
    await recordReceived(db, row);
    await recordReceived(db, { ...row, received_at: '2026-01-01T00:00:02.000Z' });
    expect(await listReceived(db)).toEqual([{ ...row, received_at: '2026-01-01T00:00:02.000Z' }]);
    expect(await receivedServices(db)).toEqual(['web']);
  });
});
