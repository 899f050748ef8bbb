import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endOfLifeProvider } from './endoflife.ts';
import { FakeUpstream, readFixture } from './fake-upstream.test-support.ts';

const eks = readFixture('endoflife-eks.json');

describe('endOfLifeProvider', () => {
  let upstream: FakeUpstream;
  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
    upstream.answer('/api/eks.json', {
      headers: { 'content-type': 'application/json', 'last-modified': 'Tue, 11 Apr 2023 00:00:00 GMT' },
      body: eks,
    });
  });
  afterEach(async () => {
    await upstream.stop();
  });

  it('gives one version per recorded cycle with its end of life', async () => {
    const provider = endOfLifeProvider({ baseUrl: upstream.origin });
    const result = await provider.list({ product: 'EKS' }, {});
    if (result.notModified) throw new Error('expected a list');
    expect(result.versions).toHaveLength((JSON.parse(eks) as unknown[]).length);
    expect(result.versions[0]).toEqual({ version: '1.26-eks-1', cycle: '1.26', eol: false, publishedAt: '2023-04-11' });
    expect(result.versions[1]).toMatchObject({ version: '1.25-eks-3', cycle: '1.25', eol: '2024-05-01' });
    expect(result.lastModified).toBe('Tue, 11 Apr 2023 00:00:00 GMT');
  });

  it('sends If-Modified-Since and passes a 304 on', async () => {
    upstream.route('/api/kubernetes.json', (request) =>
      request.headers['if-modified-since'] === 'Tue, 11 Apr 2023 00:00:00 GMT' ? { status: 304 } : { body: eks },
    );
    const provider = endOfLifeProvider({ baseUrl: upstream.origin });
    const result = await provider.list({ product: 'kubernetes' }, { lastModified: 'Tue, 11 Apr 2023 00:00:00 GMT' });
    expect(result.notModified).toBe(true);
  });

  it('refuses a product name that is not one and an answer that is not a list', async () => {
    const provider = endOfLifeProvider({ baseUrl: upstream.origin });
    await expect(provider.list({ product: '../admin' }, {})).rejects.toMatchObject({ kind: 'unsupported' });
    upstream.answer('/api/object.json', { body: '{"cycle":"1"}' });
    await expect(provider.list({ product: 'object' }, {})).rejects.toMatchObject({ kind: 'invalid-body' });
    expect(upstream.requests.map((request) => request.path)).toEqual(['/api/object.json']);
  });
});
