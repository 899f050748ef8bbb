import { randomUUID } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { makeArtifact } from '../catalog/archive.test.helper.ts';
import { artifactKey } from '../catalog/artifacts.ts';
import { createCatalogService } from '../catalog/service.ts';
import { artifactSweepGraceMs } from '../catalog/sweep.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import { InstanceKeys } from '../checkin/instance-keys.ts';
import { makeFaultArchive } from '../faults/archive.test.helper.ts';
import { createFaultService, faultArchiveKey } from '../faults/service.ts';
import { startMaintenance } from '../maintenance.ts';
import { S3BlobStore } from './s3-store.ts';
import { type LocalS3, startLocalS3 } from './s3rver.test.helper.ts';

const actor: Principal = { tokenId: 't', name: 'dev', role: 'developer' };
const manifest = { run: { command: './run' } };

describeEachStore(allStoreKinds)('catalog, faults and sweeps on an S3 blob store, %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let s3: LocalS3;
  let blobs: S3BlobStore;
  let dataDir: string;

  beforeAll(async () => {
    s3 = await startLocalS3();
    blobs = new S3BlobStore({ client: s3.client, bucket: s3.bucket, prefix: '' });
  });
  afterAll(async () => {
    await s3?.close();
  });
  beforeEach(async () => {
    dataDir = makeTempDir('flotilla-s3-features-');
    for (const key of await s3.keys()) await blobs.delete(key);
  });

  it('publishes into the bucket, streams the artifact back, and leaves nothing of a refused or cut-off upload', async () => {
    const catalog = createCatalogService({ db: handle.current.db, dataDir, blobs });
    await catalog.createService(actor, { name: 'web' });
    const file = await makeArtifact(manifest, { run: '#!/bin/sh\n' });
    const v = await catalog.publish(actor, { service: 'web', version: '1.0.0', body: createReadStream(file) });
    expect(await s3.keys()).toEqual([artifactKey(v.digest)]);
    const blob = await catalog.artifact('web', '1.0.0');
    expect((await buffer(await blob.open())).equals(readFileSync(file))).toBe(true);
    expect((await buffer(await blob.open({ start: 1, end: 4 }))).equals(readFileSync(file).subarray(1, 5))).toBe(true);
    // A refused upload (no flotilla.json) never reaches the bucket.
    const bad = await makeArtifact(undefined, { other: 'x' });
    await expect(
      catalog.publish(actor, { service: 'web', version: '1.0.1', body: createReadStream(bad) }),
    ).rejects.toThrow(/no flotilla.json/);
    expect(await s3.keys()).toEqual([artifactKey(v.digest)]);
    // An upload cut off halfway leaves neither row nor object.
    const cut = Readable.from(
      (async function* () {
        yield readFileSync(file).subarray(0, 10);
        throw new Error('client gone');
      })(),
    );
    await expect(catalog.publish(actor, { service: 'web', version: '1.0.2', body: cut })).rejects.toThrow(
      /did not complete/,
    );
    expect((await catalog.listVersions('web', {})).versions.map((x) => x.version)).toEqual(['1.0.0']);
    expect(await s3.keys()).toEqual([artifactKey(v.digest)]);
  });

  it('deletes the uploaded object when the row cannot be committed', async () => {
    // Trimming asks isPinned inside the publish transaction: failing there rolls the row back.
    const catalog = createCatalogService({
      db: handle.current.db,
      dataDir,
      blobs,
      isPinned: async () => {
        throw new Error('the database went away');
      },
    });
    await catalog.createService(actor, { name: 'web' });
    await catalog.patchService(actor, 'web', { maxHistorySize: 1 });
    const first = await catalog.publish(actor, {
      service: 'web',
      version: '1.0.0',
      body: createReadStream(await makeArtifact(manifest)),
    });
    const second = await makeArtifact(manifest, { extra: 'different bytes' });
    await expect(
      catalog.publish(actor, { service: 'web', version: '1.0.1', body: createReadStream(second) }),
    ).rejects.toThrow('the database went away');
    expect(await s3.keys()).toEqual([artifactKey(first.digest)]);
    expect(readdirSync(join(dataDir, 'artifacts', 'tmp'))).toEqual([]);
  });

  it('sweeps unreferenced blobs past the grace in the bucket, keeping referenced ones and strays', async () => {
    const catalog = createCatalogService({ db: handle.current.db, dataDir, blobs });
    await catalog.createService(actor, { name: 'web' });
    const file = await makeArtifact(manifest);
    const kept = await catalog.publish(actor, { service: 'web', version: '1.0.0', body: createReadStream(file) });
    const orphan = await blobs.put(`artifacts/sha256/ab/${'ab'.padEnd(64, '0')}`, Readable.from([Buffer.from('x')]), {
      maxBytes: 10,
      what: 'it',
    });
    expect(orphan.size).toBe(1);
    await blobs.put('artifacts/sha256/zz/not-a-blob', Readable.from([Buffer.from('x')]), { maxBytes: 10, what: 'it' });
    const sweep = async (at: number) => {
      const m = startMaintenance({
        db: handle.current.db,
        apps: { list: () => [] } as unknown as AppRegistry,
        instanceKeys: new InstanceKeys(handle.current.db),
        rawRetentionMs: 86_400_000,
        logger: pino({ level: 'silent' }),
        dataDir,
        blobs,
        intervalMs: 3_600_000,
        now: () => at,
      });
      await m.stop();
      await m.runOnce();
    };
    await sweep(Date.now()); // inside the grace: a publish may still be about to commit its row
    expect(await s3.keys()).toHaveLength(3);
    await sweep(Date.now() + artifactSweepGraceMs + 60_000);
    expect(await s3.keys()).toEqual([artifactKey(kept.digest), 'artifacts/sha256/zz/not-a-blob'].sort());
  });

  it('keeps fault archives in the bucket: upload, download, retention and orphans', async () => {
    let clock = Date.now();
    const faults = createFaultService({
      db: handle.current.db,
      dataDir,
      blobs,
      retentionMs: 86_400_000,
      maxCount: 100,
      now: () => clock,
    });
    const file = await makeFaultArchive();
    const { id } = await faults.receive({ environment: 'prod' }, createReadStream(file));
    expect(await s3.keys()).toEqual([faultArchiveKey(id)]);
    const archive = await faults.archive(id);
    expect(archive.size).toBe(readFileSync(file).length);
    expect((await buffer(await archive.open())).equals(readFileSync(file))).toBe(true);
    // A refused upload (the instance check) leaves nothing in the bucket.
    await expect(
      faults.receive(
        {
          environment: 'prod',
          check: () => {
            throw new Error('not yours');
          },
        },
        createReadStream(file),
      ),
    ).rejects.toThrow('not yours');
    const orphan = faultArchiveKey(randomUUID());
    await blobs.put(orphan, Readable.from([Buffer.from('orphan')]), { maxBytes: 100, what: 'it' });
    await faults.applyRetention();
    expect(await s3.keys()).toEqual([faultArchiveKey(id), orphan].sort());
    clock += 2 * 3_600_000; // the orphan is now old enough to be a crash's leftover
    await faults.applyRetention();
    expect(await s3.keys()).toEqual([faultArchiveKey(id)]);
    clock += 2 * 86_400_000; // past the retention
    expect(await faults.applyRetention()).toBe(1);
    expect(await s3.keys()).toEqual([]);
  });
});
