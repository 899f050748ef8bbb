import type { IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, FakeUpstream } from './fake-upstream.test-support.ts';
import { ociProvider, parseChallenge, parseImage } from './oci.ts';

// No registry answers were recorded: these follow the OCI distribution spec and Docker Hub's token flow.
describe('ociProvider', () => {
  let registry: FakeUpstream;
  const first = '/v2/library/nginx/tags/list?n=2';
  const second = '/v2/library/nginx/tags/list?last=1.25&n=2';

  beforeEach(async () => {
    registry = await new FakeUpstream().start();
    const challenge = `Bearer realm="${registry.origin}/token",service="registry.example",scope="repository:library/nginx:pull"`;
    const page =
      (body: object, link?: string) =>
      (request: IncomingMessage): Answer =>
        request.headers.authorization === 'Bearer t0ken'
          ? { headers: { 'content-type': 'application/json', ...(link ? { link } : {}) }, body: JSON.stringify(body) }
          : { status: 401, headers: { 'www-authenticate': challenge }, body: '{"errors":[{"code":"UNAUTHORIZED"}]}' };
    registry.route(first, page({ name: 'library/nginx', tags: ['1.24', '1.25'] }, `<${second}>; rel="next"`));
    registry.route(second, page({ name: 'library/nginx', tags: ['1.27', 'latest'] }));
    registry.route('/token?service=registry.example&scope=repository%3Alibrary%2Fnginx%3Apull', (request) =>
      request.headers.authorization === `Basic ${Buffer.from('bot:pw').toString('base64')}`
        ? { body: JSON.stringify({ token: 't0ken' }) }
        : { status: 401, body: '{"details":"incorrect username or password"}' },
    );
  });
  afterEach(async () => {
    await registry.stop();
  });

  it('answers the bearer challenge once and pages tags through a relative Link', async () => {
    const oci = ociProvider({
      registries: { 'docker.io': { baseUrl: registry.origin, username: 'bot', password: 'pw' } },
      pageSize: 2,
    });
    const result = await oci.list({ image: 'nginx:1.25.3@sha256:abcd' }, {});
    expect(result.notModified ? [] : result.versions.map((version) => version.version)).toEqual([
      '1.24',
      '1.25',
      '1.27',
      'latest',
    ]);
    expect(registry.requests.map((request) => request.path.split('?')[0])).toEqual([
      '/v2/library/nginx/tags/list',
      '/token',
      '/v2/library/nginx/tags/list',
      '/v2/library/nginx/tags/list',
    ]);
    expect(oci.key({ image: 'docker.io/library/nginx:1.25' })).toBe(oci.key({ image: 'nginx' }));
  });

  it('reports refused credentials as an error, not a list', async () => {
    const oci = ociProvider({
      registries: { 'docker.io': { baseUrl: registry.origin, username: 'bot', password: 'no' } },
      pageSize: 2,
    });
    await expect(oci.list({ image: 'nginx' }, {})).rejects.toMatchObject({ kind: 'http', status: 401 });
  });

  it('splits image references as Docker does', () => {
    expect(parseImage('nginx')).toEqual({ host: 'docker.io', name: 'library/nginx' });
    expect(parseImage('registry.example.com:5000/team/app:1.2@sha256:ff')).toEqual({
      host: 'registry.example.com:5000',
      name: 'team/app',
    });
    expect(parseImage('localhost/app')).toEqual({ host: 'localhost', name: 'app' });
    expect(parseImage('ghcr.io/org/tool')).toEqual({ host: 'ghcr.io', name: 'org/tool' });
    expect(() => parseImage('Bad/Name')).toThrow(/not a repository name/);
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"')).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
    });
  });
});
