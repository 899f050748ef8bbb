import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { makeArtifact } from './archive.test.helper.ts';
import { createCatalogService, findVersion, listServiceNames } from './service.ts';
import { verifySignedManifest } from './signing.ts';

const dev: Principal = { tokenId: 't1', name: 'dev', role: 'developer' };
const manifest = { run: { command: './bin/app' } };

describeEachStore(allStoreKinds)('catalog service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = (opts: { pinned?: Set<string>; max?: number } = {}) => {
    const dataDir = makeTempDir('flotilla-cat-');
    let tick = 0;
    const catalog = createCatalogService({
      db: handle.current.db,
      dataDir,
      defaultMaxHistory: opts.max,
      isPinned: async (_db, _s, v) => opts.pinned?.has(v) ?? false,
      now: () => new Date(Date.UTC(2026, 0, 1) + tick++ * 1000),
    });
    return { catalog, dataDir };
  };
  const publish = async (catalog: ReturnType<typeof setup>['catalog'], version: string, file: string) =>
    catalog.publish(dev, { service: 'web', version, body: createReadStream(file) });

  it('creates, lists, patches and deletes services; refuses duplicates', async () => {
    const { catalog } = setup();
    await catalog.createService(dev, { name: 'web', description: 'front end' });
    await catalog.createService(dev, { name: 'api' });
    await expect(catalog.createService(dev, { name: 'web' })).rejects.toThrow('already exists');
    await expect(catalog.createService(dev, { name: 'Bad_Name' })).rejects.toThrow('must match');
    expect((await catalog.listServices()).map((s) => s.name)).toEqual(['api', 'web']);
    expect(await listServiceNames(handle.current.db)).toEqual(['api', 'web']);
    const patched = await catalog.patchService(dev, 'web', { maxHistorySize: 3, description: 'new' });
    expect(patched).toMatchObject({ name: 'web', description: 'new', maxHistorySize: 3 });
    expect((await catalog.getService('api')).maxHistorySize).toBe(50);
    await catalog.deleteService(dev, 'api');
    await expect(catalog.getService('api')).rejects.toThrow('no service "api"');
  });

  it('keeps profiles as whole sets of known services', async () => {
    const { catalog } = setup();
    await catalog.createService(dev, { name: 'web' });
    await catalog.createService(dev, { name: 'api' });
    await catalog.putProfile(dev, 'core', ['web', 'api', 'web']);
    expect(await catalog.getProfile('core')).toMatchObject({ name: 'core', services: ['api', 'web'] });
    await catalog.putProfile(dev, 'core', ['api']);
    expect((await catalog.listProfiles()).map((p) => [p.name, p.services])).toEqual([['core', ['api']]]);
    await expect(catalog.putProfile(dev, 'core', ['api', 'nope'])).rejects.toThrow('unknown service(s): nope');
    await expect(catalog.deleteService(dev, 'api')).rejects.toThrow('in profile(s) core');
    await catalog.deleteProfile(dev, 'core');
    await expect(catalog.getProfile('core')).rejects.toThrow('no profile');
    await catalog.deleteService(dev, 'api');
  });

  it('publishes, signs, finds and refuses a second publish of the same version', async () => {
    const { catalog, dataDir } = setup();
    await catalog.createService(dev, { name: 'web' });
    const file = await makeArtifact(manifest, { 'bin/app': 'echo hi' });
    const v = await publish(catalog, '1.0.0', file);
    expect(v.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(verifySignedManifest(catalog.signingKey().publicKeyPem, v)).toBe(true);
    expect(JSON.parse(v.signedManifest)).toMatchObject({
      service: 'web',
      version: '1.0.0',
      digest: v.digest,
      manifest,
    });
    const found = await findVersion(handle.current.db, 'web', '1.0.0');
    expect(found).toMatchObject({ service: 'web', version: '1.0.0', digest: v.digest, size: v.size, manifest });
    expect(await findVersion(handle.current.db, 'web', '9.9.9')).toBeUndefined();
    await expect(publish(catalog, '1.0.0', file)).rejects.toThrow('already exists');
    await expect(catalog.deleteService(dev, 'web')).rejects.toThrow('still has 1 version');
    expect(await catalog.blobs.exists(v.digest)).toBe(true);
    expect(readdirSync(join(dataDir, 'artifacts', 'tmp'))).toEqual([]);
  });

  it('reuses an identical blob and deletes it only when no version references it', async () => {
    const { catalog } = setup({ max: 2 });
    await catalog.createService(dev, { name: 'web' });
    const same = await makeArtifact(manifest);
    const a = await publish(catalog, '1.0.0', same);
    const b = await publish(catalog, '1.0.1', same);
    expect(b.digest).toBe(a.digest);
    const other = await makeArtifact(manifest, { x: 'different' });
    const c = await publish(catalog, '1.0.2', other);
    // 1.0.0 is trimmed, but 1.0.1 still uses the shared blob.
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.0.2', '1.0.1']);
    expect(await catalog.blobs.exists(a.digest)).toBe(true);
    await publish(catalog, '1.0.3', other);
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.0.3', '1.0.2']);
    expect(await catalog.blobs.exists(a.digest)).toBe(false);
    expect(await catalog.blobs.exists(c.digest)).toBe(true);
  });

  it('trims history beyond maxHistorySize but keeps pinned versions', async () => {
    const pinned = new Set(['1.0.0']);
    const { catalog } = setup({ pinned });
    await catalog.createService(dev, { name: 'web' });
    await catalog.patchService(dev, 'web', { maxHistorySize: 2 });
    const file = await makeArtifact(manifest);
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) await publish(catalog, v, file);
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.3.0', '1.2.0', '1.0.0']);
    pinned.clear();
    await publish(catalog, '1.4.0', file);
    expect((await catalog.listVersions('web', {})).versions.map((v) => v.version)).toEqual(['1.4.0', '1.3.0']);
  });

  it('pages versions newest first by version order', async () => {
    const { catalog } = setup();
    await catalog.createService(dev, { name: 'web' });
    const file = await makeArtifact(manifest);
    for (const v of ['jetto-3.5.1', 'jetto-3.5.1_2', 'jetto-3.10', 'jetto-3.5.1_1']) await publish(catalog, v, file);
    const first = await catalog.listVersions('web', { limit: 3 });
    expect(first.versions.map((v) => v.version)).toEqual(['jetto-3.10', 'jetto-3.5.1_2', 'jetto-3.5.1_1']);
    expect(first.nextCursor).toBe('jetto-3.5.1_1');
    const second = await catalog.listVersions('web', { limit: 3, cursor: first.nextCursor ?? '' });
    expect(second).toEqual({ versions: [expect.objectContaining({ version: 'jetto-3.5.1' })], nextCursor: null });
  });

  it('refuses bad names, digests and manifests and keeps nothing', async () => {
    const { catalog, dataDir } = setup();
    await catalog.createService(dev, { name: 'web' });
    const file = await makeArtifact(manifest);
    await expect(publish(catalog, 'latest', file)).rejects.toThrow('neither semver');
    await expect(
      catalog.publish(dev, { service: 'web', version: '1.0.0', body: createReadStream(file), sha256: '0'.repeat(64) }),
    ).rejects.toThrow('digest mismatch');
    await expect(publish(catalog, '1.0.0', await makeArtifact({ run: { command: 5 } }))).rejects.toThrow(
      'flotilla.json: /run/command: expected string',
    );
    await expect(publish(catalog, '1.0.0', await makeArtifact(undefined, { 'a.txt': 'x' }))).rejects.toThrow(
      'no flotilla.json',
    );
    expect((await catalog.listVersions('web', {})).versions).toEqual([]);
    expect(readdirSync(join(dataDir, 'artifacts', 'tmp'))).toEqual([]);
    expect(existsSync(join(dataDir, 'artifacts', 'sha256'))).toBe(false);
  });
});
