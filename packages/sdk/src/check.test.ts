import { afterEach, describe, expect, it } from 'vitest';
import { checkForUpgrade } from './check.ts';
import { type FakeResponder, type Reply, sendJson, startFakeResponder } from './fake-responder.test.helper.ts';

const camelVersions = [
  { name: 'v1.1.0', releaseDate: '2021-01-01T00:00:00Z', minUpgradableVersion: '', tags: [], extraInfo: null },
  { name: 'v1.3.0', releaseDate: '2023-01-01T00:00:00Z', minUpgradableVersion: '', tags: ['latest'], extraInfo: null },
  {
    name: 'v1.2.0',
    releaseDate: '2022-01-01T00:00:00Z',
    minUpgradableVersion: 'v1.0.0',
    tags: ['stable'],
    extraInfo: { notes: 'https://example.test/v1.2.0' },
  },
];
const pascalVersions = camelVersions.map((version) => ({
  Name: version.name,
  ReleaseDate: version.releaseDate,
  MinUpgradableVersion: version.minUpgradableVersion,
  Tags: version.tags,
  ExtraInfo: version.extraInfo,
}));

let server: FakeResponder | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(reply: Reply): Promise<FakeResponder> {
  server = await startFakeResponder(reply);
  return server;
}

function answerVersions(versions: unknown[], requestIntervalInMinutes = 60): Reply {
  return (_request, response) => sendJson(response, 200, { versions, requestIntervalInMinutes });
}

describe('checkForUpgrade request', () => {
  it('posts the exact upgrade-responder body as JSON to /v1/checkupgrade', async () => {
    const responder = await serve(answerVersions(camelVersions));
    await checkForUpgrade({
      url: responder.baseUrl,
      appVersion: 'v1.0.0',
      extraTagInfo: { os: 'linux', arch: 'arm64' },
      extraFieldInfo: { nodes: 3, ha: true, channel: 'stable' },
      instanceId: '0b7f6c1e-1111-4222-8333-944455556666',
    });
    expect(responder.requests).toHaveLength(1);
    const [request] = responder.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v1/checkupgrade');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toBe(
      '{"appVersion":"v1.0.0","extraTagInfo":{"os":"linux","arch":"arm64"},' +
        '"extraFieldInfo":{"nodes":3,"ha":true,"channel":"stable"},' +
        '"instanceId":"0b7f6c1e-1111-4222-8333-944455556666"}',
    );
  });

  it('sends empty maps when no extra info is given, and the deprecated extraInfo as is', async () => {
    const responder = await serve(answerVersions([]));
    await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0', extraInfo: { kernel: '6.1' } });
    expect(responder.requests.map((request) => request.body)).toEqual([
      '{"appVersion":"v1.0.0","extraTagInfo":{},"extraFieldInfo":{}}',
      '{"appVersion":"v1.0.0","extraTagInfo":{},"extraFieldInfo":{},"extraInfo":{"kernel":"6.1"}}',
    ]);
  });

  it('uses a URL ending in checkupgrade as is and keeps other paths as a prefix', async () => {
    const responder = await serve(answerVersions([]));
    await checkForUpgrade({ url: `${responder.baseUrl}/custom/checkupgrade?token=abc`, appVersion: 'v1.0.0' });
    await checkForUpgrade({ url: `${responder.baseUrl}/responder/`, appVersion: 'v1.0.0' });
    expect(responder.requests.map((request) => request.path)).toEqual([
      '/custom/checkupgrade?token=abc',
      '/responder/v1/checkupgrade',
    ]);
  });

  it('sends extra headers but always declares the body as JSON', async () => {
    const responder = await serve(answerVersions([]));
    await checkForUpgrade({
      url: responder.baseUrl,
      appVersion: 'v1.0.0',
      headers: { 'X-Api-Key': 'secret', 'content-type': 'text/plain' },
    });
    expect(responder.requests[0]?.headers['x-api-key']).toBe('secret');
    expect(responder.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('rejects invalid options with a TypeError before sending anything', async () => {
    await expect(checkForUpgrade({ url: 'not a url', appVersion: 'v1.0.0' })).rejects.toThrow(TypeError);
    await expect(checkForUpgrade({ url: 'ftp://host', appVersion: 'v1.0.0' })).rejects.toThrow(/http or https/);
    await expect(checkForUpgrade({ url: 'http://127.0.0.1:1', appVersion: 'v1.0.0', timeoutMs: 0 })).rejects.toThrow(
      /timeoutMs/,
    );
    const badHeader = { 'X-Bad': 'line\nbreak' };
    await expect(
      checkForUpgrade({ url: 'http://127.0.0.1:1', appVersion: 'v1.0.0', headers: badHeader }),
    ).rejects.toThrow(TypeError);
  });
});

describe('checkForUpgrade answer', () => {
  it('normalizes a camelCase answer, sorts newest first and picks the newest latest-tagged version', async () => {
    const responder = await serve(answerVersions(camelVersions, 120));
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    expect(result.versions.map((version) => version.name)).toEqual(['v1.3.0', 'v1.2.0', 'v1.1.0']);
    expect(result.versions[1]).toEqual(camelVersions[2]);
    expect(result.upgradeAvailable).toBe(true);
    expect(result.latest?.name).toBe('v1.3.0');
    expect(result.blockedBy).toBeUndefined();
    expect(result.requestIntervalInMinutes).toBe(120);
    expect(result.retryAfterMs).toBeUndefined();
  });

  it('reads a PascalCase answer from old servers into the same result', async () => {
    const camel = await serve(answerVersions(camelVersions));
    const fromCamel = await checkForUpgrade({ url: camel.baseUrl, appVersion: 'v1.0.0' });
    const pascal = await startFakeResponder(answerVersions(pascalVersions));
    try {
      const fromPascal = await checkForUpgrade({ url: pascal.baseUrl, appVersion: 'v1.0.0' });
      expect(fromPascal).toEqual(fromCamel);
      expect(fromPascal.versions[1]?.extraInfo).toEqual({ notes: 'https://example.test/v1.2.0' });
    } finally {
      await pascal.close();
    }
  });

  it('sorts versions sent in any order, with names that are not versions last', async () => {
    const names = ['v0.9.0', 'nightly', 'v2.0.0-rc.1', 'v1.10.0', 'v2.0.0', 'v1.9.0', 'v1.10.0-beta'];
    const responder = await serve(answerVersions(names.map((name) => ({ name, tags: ['latest'] }))));
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.9.0' });
    expect(result.versions.map((version) => version.name)).toEqual([
      'v2.0.0',
      'v2.0.0-rc.1',
      'v1.10.0',
      'v1.10.0-beta',
      'v1.9.0',
      'v0.9.0',
      'nightly',
    ]);
    expect(result.versions[0]).toEqual({
      name: 'v2.0.0',
      releaseDate: '',
      minUpgradableVersion: '',
      tags: ['latest'],
      extraInfo: null,
    });
    expect(result.latest?.name).toBe('v2.0.0');
  });

  it('never offers a name that is not a version, nor the running version itself', async () => {
    const responder = await serve(
      answerVersions([
        { name: 'nightly', tags: ['latest'] },
        { name: 'v1.0.0+build.2', tags: ['latest'] },
      ]),
    );
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    expect(result.upgradeAvailable).toBe(false);
    expect(result.latest).toBeUndefined();
  });

  it('skips versions whose minUpgradableVersion is above the running one and reports them as blockedBy', async () => {
    const versions = [
      { name: 'v3.0.0', minUpgradableVersion: 'v2.0.0', tags: ['latest'] },
      { name: 'v2.1.0', minUpgradableVersion: 'v1.5.0', tags: ['latest'] },
      { name: 'v2.0.0', minUpgradableVersion: 'v1.0.0', tags: ['latest'] },
    ];
    const responder = await serve(answerVersions(versions));
    const fromOld = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    expect(fromOld.upgradeAvailable).toBe(true);
    expect(fromOld.latest?.name).toBe('v2.0.0');
    expect(fromOld.blockedBy?.name).toBe('v3.0.0');

    const fromTooOld = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v0.9.0' });
    expect(fromTooOld.upgradeAvailable).toBe(false);
    expect(fromTooOld.latest).toBeUndefined();
    expect(fromTooOld.blockedBy?.name).toBe('v3.0.0');

    const fromMinimum = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v2.0.0' });
    expect(fromMinimum.latest?.name).toBe('v3.0.0');
    expect(fromMinimum.blockedBy).toBeUndefined();
  });

  it('selects by tag, accepts any tag with null, and finds nothing for an unknown tag', async () => {
    const versions = [
      { name: 'v2.0.0-rc.1', tags: ['dev'] },
      { name: 'v1.5.0', tags: ['latest', 'stable'] },
      { name: 'v1.4.0', tags: ['stable'] },
    ];
    const responder = await serve(answerVersions(versions));
    const check = (tag?: string | null) => checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0', tag });
    expect((await check()).latest?.name).toBe('v1.5.0');
    expect((await check('dev')).latest?.name).toBe('v2.0.0-rc.1');
    expect((await check(null)).latest?.name).toBe('v2.0.0-rc.1');
    expect((await check('lts')).upgradeAvailable).toBe(false);
  });

  it('compares distribution builds only within their own prefix', async () => {
    const names = ['jetto-3.5.1_2', 'other-9.0.0', 'v9.0.0', 'jetto-3.5.1'];
    const responder = await serve(answerVersions(names.map((name) => ({ name, tags: ['latest'] }))));
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'jetto-3.5.1_1' });
    expect(result.latest?.name).toBe('jetto-3.5.1_2');
  });

  it('returns the versions but no upgrade when the running version is not semver', async () => {
    const responder = await serve(answerVersions(camelVersions));
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'dev-build' });
    expect(result.versions).toHaveLength(3);
    expect(result.upgradeAvailable).toBe(false);
  });

  it('falls back to a 60 minute interval when the server gives none or a non-positive one', async () => {
    const responder = await serve((_request, response) => sendJson(response, 200, { versions: [] }));
    expect((await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' })).requestIntervalInMinutes).toBe(60);
    responder.reply = (_request, response) => sendJson(response, 200, { versions: null, requestIntervalInMinutes: 0 });
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    expect(result.requestIntervalInMinutes).toBe(60);
    expect(result.versions).toEqual([]);
  });
});
