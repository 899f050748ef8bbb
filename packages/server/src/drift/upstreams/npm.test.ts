import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './fake-upstream.test-support.ts';
import { npmProvider } from './npm.ts';

// No registry answer was recorded: the document follows the npm registry's abbreviated format.
const document = {
  name: '@flotilla/demo',
  'dist-tags': { latest: '1.1.0' },
  modified: '2026-01-02T00:00:00.000Z',
  versions: {
    '1.0.0': { name: '@flotilla/demo', version: '1.0.0' },
    '1.1.0': { name: '@flotilla/demo', version: '1.1.0' },
    '1.0.1': { name: '@flotilla/demo', version: '1.0.1', deprecated: 'broken build' },
    '2.0.0-beta.1': { name: '@flotilla/demo', version: '2.0.0-beta.1' },
  },
};

describe('npmProvider', () => {
  let registry: FakeUpstream;
  beforeEach(async () => {
    registry = await new FakeUpstream().start();
    registry.answer('/@flotilla%2fdemo', { headers: { etag: 'W/"n1"' }, body: JSON.stringify(document) });
  });
  afterEach(async () => {
    await registry.stop();
  });

  it('lists versions with prereleases and deprecated ones flagged, asking for the abbreviated document', async () => {
    const npm = npmProvider({ registryUrl: registry.origin, token: 'npm-token' });
    const result = await npm.list({ name: '@flotilla/demo' }, {});
    expect(result).toMatchObject({
      etag: 'W/"n1"',
      versions: [
        { version: '1.0.0', prerelease: false },
        { version: '1.1.0', prerelease: false },
        { version: '1.0.1', prerelease: false, deprecated: true },
        { version: '2.0.0-beta.1', prerelease: true },
      ],
    });
    expect(registry.requests[0]?.headers.accept).toContain('application/vnd.npm.install-v1+json');
    expect(registry.requests[0]?.headers.authorization).toBe('Bearer npm-token');
    expect(await npm.list({ name: '@flotilla/demo' }, { etag: 'W/"n1"' })).toMatchObject({ notModified: true });
  });

  it('refuses a name that is not a package name and a document without versions', async () => {
    const npm = npmProvider({ registryUrl: registry.origin });
    await expect(npm.list({ name: '../../-/whoami' }, {})).rejects.toMatchObject({ kind: 'unsupported' });
    registry.answer('/empty', { body: '{"error":"x"}' });
    await expect(npm.list({ name: 'empty' }, {})).rejects.toMatchObject({ kind: 'invalid-body' });
    await expect(npm.list({ name: 'missing' }, {})).rejects.toMatchObject({ kind: 'not-found' });
  });
});
