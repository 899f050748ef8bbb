import { createReadStream } from 'node:fs';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { makeArtifact } from '../catalog/archive.test.helper.ts';
import { createCatalogService } from '../catalog/service.ts';
import { verifySignedManifest } from '../catalog/signing.ts';
import { sweepOrphanBlobs } from '../catalog/sweep.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createDesiredService } from '../desired/service.ts';
import { Conflict, NotFound } from '../errors.ts';
import { createTrashService } from './service.ts';

const dev: Principal = { tokenId: 't1', name: 'dev', role: 'developer' };
const admin: Principal = { tokenId: 't2', name: 'root', role: 'admin' };
const day = 24 * 3_600_000;

describeEachStore(allStoreKinds)('restorable deletes on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = () => {
    const db = handle.current.db;
    const dataDir = makeTempDir('flotilla-trash-');
    let clock = Date.UTC(2026, 0, 1);
    const now = () => new Date(clock);
    const catalog = createCatalogService({ db, dataDir, now, isPinned: async () => false });
    const desired = createDesiredService({ db, lookup: catalogLookup, now });
    const trash = createTrashService({ db, dataDir, now });
    const advance = (ms: number) => {
      clock += ms;
    };
    return { db, dataDir, catalog, desired, trash, advance };
  };
  // Sorted: audit times are the wall clock's, and several entries share a millisecond.
  const actions = async (db: ReturnType<typeof setup>['db']) =>
    (await db.selectFrom('audit_log').select('action').execute()).map((r) => r.action).sort();

  it('restores a deleted service; a new one may take its name, and then restore refuses', async () => {
    const { db, catalog, trash, advance } = setup();
    await catalog.createService(dev, { name: 'web', description: 'front end' });
    await catalog.patchService(dev, 'web', { maxHistorySize: 3 });
    await catalog.deleteService(dev, 'web');
    expect(await catalog.listServices()).toEqual([]);
    const [item] = await trash.list();
    expect(item).toMatchObject({ kind: 'service', name: 'web', version: null, deletedBy: 'dev' });
    expect(Date.parse(item?.purgeAfter ?? '') - Date.parse(item?.deletedAt ?? '')).toBe(7 * day);
    await trash.restore(dev, 'service', 'web');
    expect(await catalog.getService('web')).toMatchObject({ description: 'front end', maxHistorySize: 3 });
    expect(await trash.list()).toEqual([]);
    await expect(trash.restore(dev, 'service', 'web')).rejects.toThrow(NotFound);

    advance(1000);
    await catalog.deleteService(dev, 'web');
    await catalog.createService(dev, { name: 'web', description: 'new' });
    const err = await trash.restore(dev, 'service', 'web').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Conflict);
    expect((err as Error).message).toMatch(/a service named "web" exists now; .*flotilla trash purge /);
    const [again] = await trash.list('service');
    await trash.purge(admin, again?.id ?? '');
    expect(await trash.list()).toEqual([]);
    expect((await catalog.getService('web')).description).toBe('new');
    expect(await actions(db)).toEqual([
      'service.create',
      'service.create',
      'service.delete',
      'service.delete',
      'service.purge',
      'service.restore',
      'service.update',
    ]);
  });

  it('restores a profile with its services, or says which deleted services it needs', async () => {
    const { catalog, trash } = setup();
    await catalog.createService(dev, { name: 'web' });
    await catalog.createService(dev, { name: 'api' });
    await catalog.putProfile(dev, 'core', ['web', 'api']);
    await catalog.deleteProfile(dev, 'core');
    expect(await catalog.listProfiles()).toEqual([]);
    await trash.restore(dev, 'profile', 'core');
    expect((await catalog.getProfile('core')).services).toEqual(['api', 'web']);
    await catalog.deleteProfile(dev, 'core');
    await catalog.deleteService(dev, 'api');
    await expect(trash.restore(dev, 'profile', 'core')).rejects.toThrow(
      'names deleted service(s) api; restore them first',
    );
    await trash.restore(dev, 'service', 'api');
    await trash.restore(dev, 'profile', 'core');
    expect((await catalog.getProfile('core')).services).toEqual(['api', 'web']);
  });

  it('restores an environment with its whole desired-list history and tested marks', async () => {
    const { catalog, desired, trash, advance } = setup();
    await catalog.createService(dev, { name: 'web' });
    const file = await makeArtifact({ run: { command: './app' } });
    await catalog.publish(dev, { service: 'web', version: '1.0.0', body: createReadStream(file) });
    await desired.createEnvironment(admin, { name: 'test' });
    await desired.editDesired(dev, 'test', { set: { web: '1.0.0' }, comment: 'first' });
    await desired.markTested(dev, 'test');
    const before = await desired.history('test', {});
    await desired.deleteEnvironment(admin, 'test');
    await expect(desired.getEnvironment('test')).rejects.toThrow(NotFound);
    await expect(desired.agentView('test')).rejects.toThrow(NotFound);
    const [first] = await trash.list('environment');
    expect(first?.name).toBe('test');

    // The name is free meanwhile; restoring waits until that environment is gone again.
    advance(1000);
    await desired.createEnvironment(admin, { name: 'test' });
    await expect(trash.restore(admin, 'environment', 'test')).rejects.toThrow('an environment named "test" exists now');
    await desired.deleteEnvironment(admin, 'test');
    // By name the newest deleted one comes back; by id, any.
    await trash.restore(admin, 'environment', 'test', undefined, first?.id);
    expect(await desired.history('test', {})).toEqual(before);
    expect(await desired.getDesired('test')).toMatchObject({ revision: 1, versions: { web: '1.0.0' } });
    expect((await desired.agentView('test')).revision).toBe(1);
    // The newer environment's entry stays in the trash until purged.
    expect((await trash.list('environment')).length).toBe(1);
  });

  it('deletes an unpinned version, keeps its artifact while restorable, restores it signed as before', async () => {
    const { db, catalog, desired, trash, advance } = setup();
    await catalog.createService(dev, { name: 'web' });
    const publish = async (version: string, content: string) =>
      catalog.publish(dev, {
        service: 'web',
        version,
        body: createReadStream(await makeArtifact({ run: { command: './app' } }, { v: content })),
      });
    const v1 = await publish('1.0.0', 'one');
    await publish('1.1.0', 'two');
    await desired.createEnvironment(admin, { name: 'prod' });
    await desired.editDesired(dev, 'prod', { set: { web: '1.1.0' } });
    await expect(trash.deleteVersion(dev, 'web', '1.1.0')).rejects.toThrow('named by a recent desired list');
    await expect(trash.deleteVersion(dev, 'web', '9.9.9')).rejects.toThrow('has no version 9.9.9');
    await expect(catalog.deleteService(dev, 'web')).rejects.toThrow('delete them first');

    await trash.deleteVersion(dev, 'web', '1.0.0');
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.1.0']);
    await expect(catalog.artifact('web', '1.0.0')).rejects.toThrow(NotFound);
    await expect(desired.editDesired(dev, 'prod', { set: { web: '1.0.0' } })).rejects.toThrow();
    // Neither the orphan sweep nor a trim takes the blob of a restorable version.
    expect(await sweepOrphanBlobs(db, catalog.blobs, Date.now() + day)).toBe(0);
    expect(await catalog.blobs.exists(v1.digest)).toBe(true);

    const restored = await trash.restore(dev, 'version', 'web', '1.0.0');
    expect(restored).toMatchObject({ kind: 'version', name: 'web', version: '1.0.0' });
    const back = await catalog.getVersion('web', '1.0.0');
    expect(back).toMatchObject({ digest: v1.digest, signature: v1.signature, signedManifest: v1.signedManifest });
    expect(verifySignedManifest(catalog.signingKey().publicKeyPem, back)).toBe(true);
    expect((await catalog.artifact('web', '1.0.0')).digest).toBe(v1.digest);

    // After the retention the sweep purges the entry and the artifact.
    await trash.deleteVersion(dev, 'web', '1.0.0');
    advance(7 * day - 1);
    expect(await trash.purgeExpired()).toBe(0);
    advance(2);
    expect(await trash.purgeExpired()).toBe(1);
    expect(await catalog.blobs.exists(v1.digest)).toBe(false);
    await expect(trash.restore(dev, 'version', 'web', '1.0.0')).rejects.toThrow(
      'no deleted version 1.0.0 of service "web"',
    );
    expect((await actions(db)).filter((a) => a.startsWith('version.'))).toEqual([
      'version.delete',
      'version.delete',
      'version.publish',
      'version.publish',
      'version.purge',
      'version.restore',
    ]);
  });

  it('refuses to restore a version whose service is gone, or whose name was published again', async () => {
    const { catalog, trash } = setup();
    await catalog.createService(dev, { name: 'web' });
    const file = await makeArtifact({ run: { command: './app' } });
    await catalog.publish(dev, { service: 'web', version: '1.0.0', body: createReadStream(file) });
    await trash.deleteVersion(dev, 'web', '1.0.0');
    await catalog.publish(dev, { service: 'web', version: '1.0.0', body: createReadStream(file) });
    await expect(trash.restore(dev, 'version', 'web', '1.0.0')).rejects.toThrow(
      'version 1.0.0 of service "web" exists now',
    );
    await trash.deleteVersion(dev, 'web', '1.0.0');
    await catalog.deleteService(dev, 'web');
    await expect(trash.restore(dev, 'version', 'web', '1.0.0')).rejects.toThrow(
      'service "web" does not exist; restore it first',
    );
    await trash.restore(dev, 'service', 'web');
    await trash.restore(dev, 'version', 'web', '1.0.0');
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.0.0']);

    // An artifact lost from the data directory is said so, not restored as a version that cannot download.
    const { digest } = await catalog.getVersion('web', '1.0.0');
    await trash.deleteVersion(dev, 'web', '1.0.0');
    await catalog.blobs.remove(digest);
    await expect(trash.restore(dev, 'version', 'web', '1.0.0')).rejects.toThrow('is gone; it cannot be restored');
  });
});
