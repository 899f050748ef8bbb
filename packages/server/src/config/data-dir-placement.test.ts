import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { ConfigError } from '../errors.ts';
import { refuseDataInsideService } from './data-dir-placement.ts';

describe('the data directory of a server an agent runs', () => {
  const root = makeTempDir('flotilla-placement-');
  const service = join(root, 'agent/services/flotilla-server');
  mkdirSync(join(service, 'versions/1.0.0'), { recursive: true });
  symlinkSync('versions/1.0.0', join(service, 'current'));
  const outside = join(root, 'server-data');

  it('may be anywhere when no agent runs the server', () => {
    const dataDir = join(service, 'versions/1.0.0/flotilla-data');
    expect(() => refuseDataInsideService({ dataDir, database: join(dataDir, 'flotilla.db') })).not.toThrow();
  });

  it('is accepted outside the service directory, with SQLite or PostgreSQL', () => {
    expect(() =>
      refuseDataInsideService({ dataDir: outside, database: join(outside, 'flotilla.db') }, service),
    ).not.toThrow();
    expect(() =>
      refuseDataInsideService({ dataDir: outside, database: 'postgres://flotilla@127.0.0.1/flotilla' }, service),
    ).not.toThrow();
  });

  it('is refused inside the version directory, also when reached through the current link', () => {
    const viaLink = join(service, 'current/flotilla-data');
    const refusal = () => refuseDataInsideService({ dataDir: viaLink, database: join(outside, 'x.db') }, service);
    expect(refusal).toThrow(ConfigError);
    expect(refusal).toThrow(/the data directory .*current\/flotilla-data is inside .*replaces the version's files/);
  });

  it('refuses an SQLite file inside it even with the data directory outside', () => {
    const database = join(service, 'versions/1.0.0/flotilla.db');
    expect(() => refuseDataInsideService({ dataDir: outside, database }, service)).toThrow(/the SQLite database/);
  });
});
