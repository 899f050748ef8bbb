import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream, readFixture } from './fake-upstream.test-support.ts';
import { helmProvider } from './helm.ts';

const index = readFixture('helm-stable-index.yaml');
const validators = { etag: '"stable-1"', 'last-modified': 'Sun, 02 Jun 2019 08:56:36 GMT' };

describe('helmProvider', () => {
  let upstream: FakeUpstream;
  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
    upstream.answer('/stable/index.yaml', { headers: { 'content-type': 'text/yaml', ...validators }, body: index });
  });
  afterEach(async () => {
    await upstream.stop();
  });

  it('lists chart versions of the recorded index, deprecated ones unless asked to skip them', async () => {
    const helm = helmProvider();
    const ref = {
      repo: `${upstream.origin}/stable`,
      chart: 'acs-engine-autoscaler',
      strategy: 'chartVersion' as const,
    };
    const all = await helm.list(ref, {});
    if (all.notModified) throw new Error('expected a list');
    expect(all.versions.map((version) => version.version)).toEqual([
      '2.2.2',
      '2.2.1',
      '2.2.0',
      '2.1.5',
      '2.1.4',
      '2.1.3',
      '2.1.2',
      '2.1.1',
      '2.1.0',
      '2.0.0',
      '1.0.0',
      '0.1.0',
    ]);
    expect(all.versions[0]).toEqual({
      version: '2.2.2',
      prerelease: false,
      deprecated: true,
      publishedAt: '2019-06-02T08:56:36.116031089Z',
      url: 'https://charts.helm.sh/stable/packages/acs-engine-autoscaler-2.2.2.tgz',
    });
    expect(all).toMatchObject({ etag: '"stable-1"', lastModified: validators['last-modified'] });
    const current = await helm.list({ ...ref, skipDeprecated: true }, {});
    expect(current.notModified ? [] : current.versions.map((version) => version.version)[0]).toBe('2.2.1');
    expect(helm.key({ ...ref, skipDeprecated: true })).not.toBe(helm.key(ref));
  });

  it('reads appVersion as written (v4.5.0.5, 1.10.2 stays a string), once per value, skipping entries without one', async () => {
    const helm = helmProvider();
    const aerospike = await helm.list(
      { repo: `${upstream.origin}/stable/`, chart: 'aerospike', strategy: 'appVersion' },
      {},
    );
    expect(aerospike.notModified ? [] : aerospike.versions.map((version) => version.version)).toEqual([
      'v4.5.0.5',
      'v3.14.1.2',
    ]);
    const airflow = await helm.list(
      { repo: `${upstream.origin}/stable`, chart: 'airflow', strategy: 'appVersion' },
      {},
    );
    expect(airflow.notModified ? [] : airflow.versions[0]?.version).toBe('1.10.2');
    const autoscaler = await helm.list(
      { repo: `${upstream.origin}/stable`, chart: 'acs-engine-autoscaler', strategy: 'appVersion' },
      {},
    );
    expect(autoscaler.notModified ? [] : autoscaler.versions.map((version) => version.version)).toEqual(['2.1.1']);
  });

  it('answers not-modified to a conditional request', async () => {
    const helm = helmProvider();
    const ref = { repo: `${upstream.origin}/stable`, chart: 'airflow', strategy: 'chartVersion' as const };
    expect(await helm.list(ref, { etag: '"stable-1"' })).toMatchObject({ notModified: true });
    expect(upstream.requests[0]?.headers['if-none-match']).toBe('"stable-1"');
  });

  it('records bad indexes as typed errors: HTML, invalid YAML, alias bombs, missing chart, oversize, OCI', async () => {
    const helm = helmProvider({ maxBytes: 256 * 1024 });
    const ref = (repo: string) => ({
      repo: `${upstream.origin}/${repo}`,
      chart: 'airflow',
      strategy: 'chartVersion' as const,
    });
    upstream.answer('/html/index.yaml', { headers: { 'content-type': 'text/html' }, body: '<html>login</html>' });
    upstream.answer('/broken/index.yaml', { body: 'entries: [unclosed\n  - : :' });
    const bomb = [
      'a: &a [x, x, x, x]',
      ...Array.from(
        { length: 30 },
        (_, i) => `b${i}: &b${i} [*${i === 0 ? 'a' : `b${i - 1}`}, *${i === 0 ? 'a' : `b${i - 1}`}]`,
      ),
    ];
    upstream.answer('/bomb/index.yaml', { body: `${bomb.join('\n')}\nentries: {}\n` });
    upstream.answer('/huge/index.yaml', { body: `${index}\n#${'x'.repeat(300 * 1024)}\n` });
    await expect(helm.list(ref('html'), {})).rejects.toMatchObject({ kind: 'invalid-body' });
    await expect(helm.list(ref('broken'), {})).rejects.toMatchObject({ kind: 'invalid-body' });
    await expect(helm.list(ref('bomb'), {})).rejects.toMatchObject({ kind: 'invalid-body' });
    await expect(helm.list({ ...ref('stable'), chart: 'nope' }, {})).rejects.toMatchObject({ kind: 'not-found' });
    await expect(helm.list(ref('huge'), {})).rejects.toMatchObject({ kind: 'too-large' });
    await expect(helm.list({ ...ref('x'), repo: 'oci://ghcr.io/charts' }, {})).rejects.toMatchObject({
      kind: 'unsupported',
    });
  });
});
