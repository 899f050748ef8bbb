import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { Conflict, Invalid, NotFound } from '../errors.ts';
import { catalogLookup } from './catalog-lookup.ts';
import { DesiredNotifier } from './long-poll.ts';
import { createDesiredService } from './service.ts';
import { principal, seedCatalog, seedProfile } from './testing.test.helper.ts';

const alice = principal('alice');
const bob = principal('bob');

describeEachStore(allStoreKinds)('desired service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = async () => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['1.0', '1.1', '2.0'], api: ['1.0', '1.1'], db: ['5'] });
    const notifier = new DesiredNotifier();
    const service = createDesiredService({ db, lookup: catalogLookup, notifier });
    await service.createEnvironment(alice, { name: 'test' });
    return { db, service, notifier };
  };

  it('starts every environment at an empty revision 0 and numbers edits from there', async () => {
    const { service } = await setup();
    const r0 = await service.getDesired('test');
    expect(r0).toMatchObject({ revision: 0, versions: {}, author: 'alice' });
    const r1 = await service.editDesired(alice, 'test', { set: { web: '1.0' }, comment: 'first' });
    const r2 = await service.editDesired(bob, 'test', { set: { api: '1.0' } });
    expect([r1.revision, r2.revision]).toEqual([1, 2]);
    expect(await service.getDesired('test')).toMatchObject({
      revision: 2,
      versions: { web: '1.0', api: '1.0' },
      author: 'bob',
    });
    expect(await service.getDesired('test', 1)).toMatchObject({
      revision: 1,
      versions: { web: '1.0' },
      comment: 'first',
    });
    expect((await service.getEnvironment('test')).revision).toBe(2);
  });

  it('applies a multi-service edit as one revision, or nothing when any part is refused', async () => {
    const { service } = await setup();
    await service.editDesired(alice, 'test', { set: { web: '1.0', api: '1.0' } });
    const r2 = await service.editDesired(alice, 'test', { set: { web: '1.1', db: '5' }, remove: ['api'] });
    expect(r2).toMatchObject({ revision: 2, versions: { web: '1.1', db: '5' } });
    const err = await service
      .editDesired(alice, 'test', { set: { web: '2.0', api: '9.9', nope: '1' } })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Invalid);
    expect((err as Error).message).toContain('api@9.9');
    expect((err as Error).message).toContain('nope@1');
    expect((await service.getDesired('test')).revision).toBe(2);
  });

  it('refuses empty changes and removals of services that are not desired', async () => {
    const { service } = await setup();
    await expect(service.editDesired(alice, 'test', {})).rejects.toBeInstanceOf(Invalid);
    await service.editDesired(alice, 'test', { set: { web: '1.0' } });
    await expect(service.editDesired(alice, 'test', { set: { web: '1.0' } })).rejects.toThrow(/changes nothing/);
    await expect(service.editDesired(alice, 'test', { remove: ['api'] })).rejects.toThrow(/cannot be removed: api/);
  });

  it('answers 409 when expectedRevision is not the current revision', async () => {
    const { service } = await setup();
    await service.editDesired(alice, 'test', { set: { web: '1.0' }, expectedRevision: 0 });
    const err = await service.editDesired(bob, 'test', { set: { web: '1.1' }, expectedRevision: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(Conflict);
    expect((err as Error).message).toContain('revision 1');
    expect((await service.getDesired('test')).versions).toEqual({ web: '1.0' });
  });

  it('serialises concurrent edits into consecutive revisions', async () => {
    const { service } = await setup();
    const results = await Promise.all([
      service.editDesired(alice, 'test', { set: { web: '1.0' } }),
      service.editDesired(bob, 'test', { set: { api: '1.0' } }),
      service.editDesired(bob, 'test', { set: { db: '5' } }),
    ]);
    expect(results.map((r) => r.revision).sort()).toEqual([1, 2, 3]);
    expect((await service.getDesired('test')).versions).toEqual({ web: '1.0', api: '1.0', db: '5' });
  });

  it('rolls back by writing a new revision equal to the old one', async () => {
    const { service } = await setup();
    await service.editDesired(alice, 'test', { set: { web: '1.0', api: '1.0' } });
    await service.editDesired(alice, 'test', { set: { web: '2.0' }, remove: ['api'] });
    const r3 = await service.rollback(bob, 'test', { revision: 1 });
    expect(r3).toMatchObject({ revision: 3, versions: { web: '1.0', api: '1.0' }, author: 'bob' });
    expect(r3.comment).toContain('rollback to revision 1');
    expect((await service.getDesired('test', 2)).versions).toEqual({ web: '2.0' });
    await expect(service.rollback(bob, 'test', { revision: 3 })).rejects.toThrow(/changes nothing/);
    await expect(service.rollback(bob, 'test', { revision: 42 })).rejects.toBeInstanceOf(NotFound);
  });

  it('lists history newest first with limit and before', async () => {
    const { service } = await setup();
    for (const v of ['1.0', '1.1', '2.0']) await service.editDesired(alice, 'test', { set: { web: v } });
    const all = await service.history('test', {});
    expect(all.map((r) => r.revision)).toEqual([3, 2, 1, 0]);
    const page = await service.history('test', { limit: 2, before: 3 });
    expect(page.map((r) => r.revision)).toEqual([2, 1]);
  });

  it('diffs two revisions, defaulting to the current one', async () => {
    const { service } = await setup();
    await service.editDesired(alice, 'test', { set: { web: '1.0', api: '1.0' } });
    await service.editDesired(alice, 'test', { set: { web: '1.1', db: '5' }, remove: ['api'] });
    expect(await service.diff('test', 1)).toEqual({
      from: 1,
      to: 2,
      added: [{ service: 'db', version: '5' }],
      removed: [{ service: 'api', version: '1.0' }],
      changed: [{ service: 'web', from: '1.0', to: '1.1' }],
    });
    expect((await service.diff('test', 2, 0)).removed).toHaveLength(2);
  });

  it('enforces the tested gate, naming what is missing, and passes after mark-tested', async () => {
    const { service } = await setup();
    await service.createEnvironment(alice, { name: 'prod', requiresTestedIn: 'test' });
    await service.editDesired(alice, 'test', { set: { web: '1.0', api: '1.0' } });
    const refused = await service.editDesired(alice, 'prod', { set: { web: '1.0', api: '1.0' } }).catch((e) => e);
    expect(refused).toBeInstanceOf(Conflict);
    expect((refused as Error).message).toBe(
      'api@1.0, web@1.0 are not marked tested in test (prod only takes versions marked tested there)',
    );
    const marked = await service.markTested(bob, 'test');
    expect(marked).toMatchObject({
      revision: 1,
      marked: [
        { service: 'api', version: '1.0' },
        { service: 'web', version: '1.0' },
      ],
    });
    expect((await service.editDesired(alice, 'prod', { set: { web: '1.0', api: '1.0' } })).revision).toBe(1);
    // Only the newly desired version is checked: api@1.0 is already desired in prod.
    const again = await service.editDesired(alice, 'prod', { set: { web: '1.1' } }).catch((e) => e);
    expect((again as Error).message).toMatch(/^web@1\.1 is not marked tested in test /);
    // A rollback is gated too.
    await service.editDesired(alice, 'test', { set: { web: '1.1' } });
    await service.markTested(bob, 'test', 2);
    await service.editDesired(alice, 'prod', { set: { web: '1.1' } });
    expect((await service.rollback(alice, 'prod', { revision: 1 })).versions).toEqual({ web: '1.0', api: '1.0' });
  });

  it('refuses unknown, self and looping tested gates, and deleting a gate others use', async () => {
    const { service } = await setup();
    await expect(service.createEnvironment(alice, { name: 'x', requiresTestedIn: 'nope' })).rejects.toThrow(
      /no environment "nope"/,
    );
    await expect(service.createEnvironment(alice, { name: 'Bad_Name' })).rejects.toBeInstanceOf(Invalid);
    await expect(service.createEnvironment(alice, { name: 'test' })).rejects.toBeInstanceOf(Conflict);
    await service.createEnvironment(alice, { name: 'prod', requiresTestedIn: 'test' });
    await expect(service.updateEnvironment(alice, 'test', { requiresTestedIn: 'prod' })).rejects.toThrow(/loop/);
    await expect(service.updateEnvironment(alice, 'test', { requiresTestedIn: 'test' })).rejects.toThrow(/itself/);
    await expect(service.deleteEnvironment(alice, 'test')).rejects.toBeInstanceOf(Conflict);
    await service.deleteEnvironment(alice, 'prod');
    await expect(service.getEnvironment('prod')).rejects.toBeInstanceOf(NotFound);
    expect((await service.listEnvironments()).map((e) => e.name)).toEqual(['test']);
  });

  it('wakes long-polling agents after a committed change', async () => {
    const { service, notifier } = await setup();
    const waiting = notifier.wait('test', 5000);
    await service.editDesired(alice, 'test', { set: { web: '1.0' } });
    expect(await waiting).toBe('changed');
  });

  it('builds the agent view from the catalog, limited to a profile when one is given', async () => {
    const { db, service } = await setup();
    await service.editDesired(alice, 'test', { set: { web: '1.0', api: '1.1' } });
    const view = await service.agentView('test');
    expect(view.revision).toBe(1);
    expect(view.services.map((s) => s.service)).toEqual(['api', 'web']);
    expect(view.services[1]).toMatchObject({
      version: '1.0',
      signature: 'sig-web-1.0',
      artifactUrl: '/api/v1/services/web/versions/1.0/artifact',
    });
    await seedProfile(db, 'frontend', ['web']);
    expect((await service.agentView('test', 'frontend')).services.map((s) => s.service)).toEqual(['web']);
    const tagBefore = await service.profileTag('frontend');
    await seedProfile(db, 'frontend', ['web', 'api']);
    expect(await service.profileTag('frontend')).not.toBe(tagBefore);
  });
});
