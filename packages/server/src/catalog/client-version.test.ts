import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import type { Principal } from '../auth/tokens.ts';
import { makeArtifact } from './archive.test.helper.ts';
import { checkClientName, kindOf, nameOf, sortVersionsNewestFirst } from './client-version.ts';
import { createCatalogService } from './service.ts';
import { listVersionSummaries } from './store.ts';

const dev: Principal = { tokenId: 't1', name: 'dev', role: 'developer' };
const section = (developerVersion: string, developerDigest: string, generation: number) => ({
  builder: 'test',
  developerVersion,
  developerDigest,
  generation,
  settings: [],
  macros: [],
  inputs: String(generation).padStart(64, '0'),
  log: { sha256: 'b'.repeat(64), bytes: 1 },
  startedAt: 'x',
  finishedAt: 'y',
});

describe('client version names', () => {
  it('tells the kinds apart by the suffix and checks name against generation', () => {
    expect([kindOf('3.5.1'), kindOf('3.5.1_1+client'), nameOf('jetto-3.5.1_2+client')]).toEqual([
      'developer',
      'client',
      'jetto-3.5.1_2',
    ]);
    const d = `sha256:${'a'.repeat(64)}`;
    expect(checkClientName('3.5.1+client', section('3.5.1', d, 0)).generation).toBe(0);
    expect(checkClientName('jetto-3.5.1_3+client', section('jetto-3.5.1', d, 3)).generation).toBe(3);
    expect(() => checkClientName('3.5.1+client', section('3.5.1', d, 1))).toThrow('is named 3.5.1_1+client');
    expect(() => checkClientName('latest+client', section('latest', d, 0))).toThrow('not the name of a developer');
    expect(() => checkClientName('3.5.1+client', undefined)).toThrow('no "client" section');
  });

  it('orders client versions before their developer version, newer generations first', () => {
    const at = (n: number) => `2026-01-0${n}T00:00:00.000Z`;
    const rows = [
      { version: '1.0.0', createdAt: at(1) },
      { version: '1.0.0_1+client', createdAt: at(4), kind: 'client', developerVersion: '1.0.0', generation: 1 },
      { version: '1.1.0', createdAt: at(2) },
      { version: '1.0.0+client', createdAt: at(3), kind: 'client', developerVersion: '1.0.0', generation: 0 },
      { version: '1.1.0+client', createdAt: at(5), kind: 'client', developerVersion: '1.1.0', generation: 0 },
    ];
    expect(sortVersionsNewestFirst(rows).map((r) => r.version)).toEqual([
      '1.1.0+client',
      '1.1.0',
      '1.0.0_1+client',
      '1.0.0+client',
      '1.0.0',
    ]);
  });
});

describeEachStore(allStoreKinds)('client versions in the catalog on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('trims each kind on its own: client builds never push developer versions out', async () => {
    let tick = 0;
    const catalog = createCatalogService({
      db: handle.current.db,
      dataDir: makeTempDir('flotilla-cv-'),
      defaultMaxHistory: 2,
      isPinned: async () => false,
      now: () => new Date(Date.UTC(2026, 0, 1) + tick++ * 1000),
    });
    await catalog.createService(dev, { name: 'web' });
    const publish = async (version: string, manifest: unknown) =>
      catalog.publish(dev, { service: 'web', version, body: createReadStream(await makeArtifact(manifest)) });
    const run = { command: './app' };
    await publish('1.0.0', { run });
    const { digest } = await publish('1.1.0', { run });
    for (let g = 0; g < 4; g++) {
      await publish(g === 0 ? '1.1.0+client' : `1.1.0_${g}+client`, { run, client: section('1.1.0', digest, g) });
    }
    const db = handle.current.db;
    expect((await listVersionSummaries(db, 'web')).map((r) => r.version).sort()).toEqual(['1.0.0', '1.1.0']);
    expect((await listVersionSummaries(db, 'web', 'client')).map((r) => r.version).sort()).toEqual([
      '1.1.0_2+client',
      '1.1.0_3+client',
    ]);
    const all = await catalog.listVersions('web', { kind: 'all' });
    expect(all.versions.map((v) => [v.version, v.kind, v.name])).toEqual([
      ['1.1.0_3+client', 'client', '1.1.0_3'],
      ['1.1.0_2+client', 'client', '1.1.0_2'],
      ['1.1.0', 'developer', '1.1.0'],
      ['1.0.0', 'developer', '1.0.0'],
    ]);
    expect(all.versions[0]?.client).toMatchObject({ developerVersion: '1.1.0', generation: 3, settings: [] });
  });
});
