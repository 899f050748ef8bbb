import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import { InstanceKeys } from '../checkin/instance-keys.ts';
import { startMaintenance } from '../maintenance.ts';
import { ArtifactStore, artifactKey } from './artifacts.ts';
import { insertService, insertVersion } from './store.ts';
import { artifactSweepGraceMs, sweepArtifactTmp } from './sweep.ts';

const noApps = { list: () => [] } as unknown as AppRegistry;
const stamp = '2026-01-01T00:00:00.000Z';

/** Writes `path` with an mtime `ageMs` in the past, as a crashed process would have left it. */
function leftover(path: string, ageMs: number): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'x');
  const t = new Date(Date.now() - ageMs);
  utimesSync(path, t, t);
  return path;
}

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describeEachStore(allStoreKinds)('artifact leftovers on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  const runMaintenance = async (dataDir: string) => {
    const m = startMaintenance({
      db: handle.current.db,
      apps: noApps,
      instanceKeys: new InstanceKeys(handle.current.db),
      rawRetentionMs: 86_400_000,
      logger: pino({ level: 'silent' }),
      dataDir,
      intervalMs: 3_600_000,
    });
    await m.stop(); // the start round has finished; run one more to check it is idempotent
    await m.runOnce();
  };

  it('removes .part files a crashed publish left behind', async () => {
    const dataDir = makeTempDir();
    const blobs = new ArtifactStore(dataDir);
    const stale = leftover(join(blobs.tmpDir, 'crashed.part'), artifactSweepGraceMs + 60_000);
    const fresh = leftover(join(blobs.tmpDir, 'uploading.part'), artifactSweepGraceMs - 60_000);
    await runMaintenance(dataDir);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it('removes blobs no version references after a crash during trimming', async () => {
    const dataDir = makeTempDir();
    const blobs = new ArtifactStore(dataDir);
    const old = artifactSweepGraceMs + 60_000;
    const [kept, trimmed, publishing] = ['kept', 'trimmed', 'publishing'].map(digestOf) as [string, string, string];
    await insertService(handle.current.db, {
      name: 'web',
      description: '',
      max_history_size: null,
      created_at: stamp,
      updated_at: stamp,
    });
    await insertVersion(handle.current.db, {
      service: 'web',
      version: '1.0.0',
      digest: kept,
      size: 1,
      manifest: '{}',
      signed_manifest: '{}',
      signature: 'sig',
      key_id: 'k',
      notes: null,
      author: 'test',
      created_at: stamp,
    });
    leftover(join(dataDir, artifactKey(kept)), old);
    leftover(join(dataDir, artifactKey(trimmed)), old);
    // Written by a publish whose row is not committed yet: inside the grace, so it stays.
    leftover(join(dataDir, artifactKey(publishing)), artifactSweepGraceMs - 60_000);
    const stray = leftover(join(dataDir, 'artifacts', 'sha256', 'zz', 'not-a-blob'), old);
    await runMaintenance(dataDir);
    expect(await blobs.exists(trimmed)).toBe(false);
    expect(await blobs.exists(kept)).toBe(true);
    expect(await blobs.exists(publishing)).toBe(true);
    expect(existsSync(stray)).toBe(true);
  });
});

it('never removes an upload this process is still receiving, however long it idles', async () => {
  const blobs = new ArtifactStore(makeTempDir());
  const body = new Readable({ read() {} });
  body.push('partial');
  const receiving = blobs.receive(body, 1024);
  await expect.poll(() => (existsSync(blobs.tmpDir) ? readdirSync(blobs.tmpDir).length : 0)).toBe(1);
  // Everything in tmp counts as old here; only the in-progress upload must survive.
  expect(await sweepArtifactTmp(blobs, Date.now() + 60_000)).toBe(0);
  body.push(null);
  const got = await receiving;
  expect(existsSync(got.tmpPath)).toBe(true);
  expect(await sweepArtifactTmp(blobs, Date.now() + 60_000)).toBe(1);
  expect(existsSync(got.tmpPath)).toBe(false);
});
