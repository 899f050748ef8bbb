import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import type { Principal } from '../auth/tokens.ts';
import { recordAudit } from './audit-log.ts';
import { readAudit } from './store.ts';

const personal: Principal = { tokenId: 't1', name: 'laptop', role: 'developer', kind: 'personal', userName: 'alice' };
const agent: Principal = { tokenId: 't2', name: 'edge', role: 'agent', kind: 'agent', environment: 'prod' };

describeEachStore(allStoreKinds)('audit log on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('records inside the caller transaction, and rolls back with it', async () => {
    const db = handle.current.db;
    await expect(
      db.transaction().execute(async (tx) => {
        await recordAudit(tx, { actor: personal, action: 'service.create', target: 'service:web' });
        throw new Error('change failed');
      }),
    ).rejects.toThrow('change failed');
    expect(await readAudit(db, { limit: 10 })).toEqual([]);
    await db.transaction().execute(async (tx) => {
      await recordAudit(tx, { actor: personal, action: 'service.create', target: 'service:web', after: { a: 1 } });
    });
    const [entry] = await readAudit(db, { limit: 10 });
    expect(entry).toMatchObject({ actor: 'alice', action: 'service.create', before: null, after: { a: 1 } });
  });

  it('names token actors and replaces secret-looking keys', async () => {
    const db = handle.current.db;
    await recordAudit(db, {
      actor: agent,
      action: 'x.update',
      target: 'x:1',
      before: { password: 'hunter2hunter2', nested: [{ tokenHash: 'abc' }] },
      after: { token: 'flt_secret', name: 'kept' },
    });
    const [entry] = await readAudit(db, { limit: 1 });
    expect(entry?.actor).toBe('token:edge');
    expect(entry?.before).toEqual({ password: '[redacted]', nested: [{ tokenHash: '[redacted]' }] });
    expect(entry?.after).toEqual({ token: '[redacted]', name: 'kept' });
  });

  it('filters by actor, action and time, newest first', async () => {
    const db = handle.current.db;
    for (let i = 0; i < 5; i++) {
      await recordAudit(db, { actor: i % 2 ? agent : personal, action: i < 3 ? 'a.one' : 'a.two', target: `t:${i}` });
    }
    const all = await readAudit(db, { limit: 10 });
    expect(all.map((e) => e.target)).toHaveLength(5);
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort().reverse());
    expect((await readAudit(db, { limit: 10, actor: 'alice' })).map((e) => e.target).sort()).toEqual([
      't:0',
      't:2',
      't:4',
    ]);
    expect((await readAudit(db, { limit: 10, action: 'a.two' })).map((e) => e.target).sort()).toEqual(['t:3', 't:4']);
    expect(await readAudit(db, { limit: 10, from: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    const page = await readAudit(db, { limit: 2 });
    const last = page[1] as { at: string; id: string };
    const rest = await readAudit(db, { limit: 10, before: { at: last.at, id: last.id } });
    expect(rest).toHaveLength(3);
    expect(rest.map((e) => e.id)).not.toContain(last.id);
  });
});
