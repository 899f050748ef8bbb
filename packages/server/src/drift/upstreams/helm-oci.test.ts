import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, FakeUpstream } from './fake-upstream.test-support.ts';
import { chartImage, helmOciProvider } from './helm-oci.ts';

describe('charts in OCI registries', () => {
  let fake: FakeUpstream;
  beforeEach(async () => {
    fake = await new FakeUpstream().start();
  });
  afterEach(() => fake.stop());

  it('names the chart repository under the registry path', () => {
    expect(chartImage({ repo: 'oci://ghcr.io/org/charts/', chart: 'app' })).toBe('ghcr.io/org/charts/app');
    expect(() => chartImage({ repo: 'oci://charts/app', chart: 'x' })).toThrow(/not a registry host/);
    expect(() => chartImage({ repo: 'https://ghcr.io/org', chart: 'x' })).toThrow(/not an oci/);
    expect(() => chartImage({ repo: 'oci://ghcr.io/Org', chart: 'x' })).toThrow(/repository name/);
  });

  it('reads chart versions from the tags, with the bearer challenge, and turns _ back into +', async () => {
    const host = new URL(fake.origin).host;
    fake.route(
      '/v2/charts/app/tags/list?n=1000',
      (request): Answer =>
        request.headers.authorization === 'Bearer t0k'
          ? { headers: { etag: '"c1"' }, body: JSON.stringify({ tags: ['1.0.0', '1.1.0_build.7'] }) }
          : { status: 401, headers: { 'www-authenticate': `Bearer realm="${fake.origin}/token",service="reg"` } },
    );
    fake.answer('/token?service=reg&scope=repository%3Acharts%2Fapp%3Apull', { body: '{"token":"t0k"}' });
    const provider = helmOciProvider({ registries: { [host]: { baseUrl: fake.origin } } });
    const ref = { repo: `oci://${host}/charts`, chart: 'app', strategy: 'chartVersion' as const };
    expect(provider.key(ref)).toBe(`helm-oci:${host}/charts/app`);
    expect(await provider.list(ref, {})).toMatchObject({
      versions: [{ version: '1.0.0' }, { version: '1.1.0+build.7' }],
      etag: '"c1"',
    });
    await expect(provider.list({ ...ref, strategy: 'appVersion' }, {})).rejects.toMatchObject({ kind: 'unsupported' });
  });
});
