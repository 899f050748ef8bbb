import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { openDatabase } from '../src/db/connection.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
type Json = any;

describeEachStore(allStoreKinds)('trash API on %s', (kind) => {
  let server: TestServer;
  let viewer: string;
  let developer: string;
  const call = (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && !Buffer.isBuffer(body) ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
    });
  const json = async (res: Promise<Response>): Promise<Json> => (await res).json();

  beforeAll(async () => {
    server = await startTestServer(kind);
    const db = openDatabase(server.database);
    const store = new TokenStore(db.db);
    viewer = (await store.create('viewer', 'viewer')).token;
    developer = (await store.create('dev', 'developer')).token;
    await db.close();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('deletes, lists and restores each kind with the role that may delete it', async () => {
    expect((await call('POST', '/api/v1/services', developer, { name: 'web' })).status).toBe(201);
    expect((await call('PUT', '/api/v1/profiles/core', developer, { services: ['web'] })).status).toBe(200);
    expect((await call('POST', '/api/v1/environments', adminToken, { name: 'qa' })).status).toBe(201);
    const bytes = readFileSync(await makeArtifact({ run: { command: './app' } }));
    const put = await call('PUT', '/api/v1/services/web/versions/1.0.0', developer, bytes, {
      'content-type': 'application/gzip',
    });
    expect(put.status).toBe(201);

    expect((await call('DELETE', '/api/v1/services/web/versions/1.0.0', viewer)).status).toBe(403);
    expect((await call('DELETE', '/api/v1/services/web/versions/1.0.0', developer)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/profiles/core', developer)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/services/web', developer)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/environments/qa', adminToken)).status).toBe(204);
    expect((await json(call('GET', '/api/v1/services', viewer))).services).toEqual([]);

    const all = (await json(call('GET', '/api/v1/trash', viewer))).items as Json[];
    expect(all.map((i) => `${i.kind}:${i.name}${i.version ? `@${i.version}` : ''}`).sort()).toEqual([
      'environment:qa',
      'profile:core',
      'service:web',
      'version:web@1.0.0',
    ]);
    expect((await json(call('GET', '/api/v1/trash?kind=profile', viewer))).items).toHaveLength(1);
    expect((await call('GET', '/api/v1/trash?kind=nope', viewer)).status).toBe(400);

    // The version needs its service, the profile its service: the errors say so.
    const early = await call('POST', '/api/v1/services/web/versions/1.0.0/restore', developer);
    expect(early.status).toBe(404);
    expect(((await early.json()) as Json).error.message).toContain('restore it first');
    expect((await call('POST', '/api/v1/services/web/restore', viewer)).status).toBe(403);
    expect((await call('POST', '/api/v1/services/web/restore', developer)).status).toBe(200);
    expect((await call('POST', '/api/v1/services/web/versions/1.0.0/restore', developer)).status).toBe(200);
    expect((await call('POST', '/api/v1/profiles/core/restore', developer)).status).toBe(200);
    expect((await call('POST', '/api/v1/environments/qa/restore', developer)).status).toBe(403);
    const env = await json(call('POST', '/api/v1/environments/qa/restore', adminToken));
    expect(env).toMatchObject({ kind: 'environment', name: 'qa', deletedBy: 'FLOTILLA_ADMIN_TOKEN' });
    expect((await call('POST', '/api/v1/environments/qa/restore', adminToken)).status).toBe(404);

    const version = await json(call('GET', '/api/v1/services/web/versions/1.0.0', viewer));
    expect(version).toMatchObject({ version: '1.0.0', digest: JSON.parse(await put.text()).digest });
    expect((await json(call('GET', '/api/v1/trash', viewer))).items).toEqual([]);
  });

  it('purges by id with the kind role, and restores one entry by id', async () => {
    expect((await call('POST', '/api/v1/environments', adminToken, { name: 'tmp' })).status).toBe(201);
    expect((await call('DELETE', '/api/v1/environments/tmp', adminToken)).status).toBe(204);
    const [item] = (await json(call('GET', '/api/v1/trash?kind=environment', viewer))).items as Json[];
    expect((await call('DELETE', `/api/v1/trash/${item.id}`, developer)).status).toBe(403);
    expect((await call('POST', `/api/v1/trash/${item.id}/restore`, developer)).status).toBe(403);
    expect((await call('POST', `/api/v1/trash/${item.id}/restore`, adminToken)).status).toBe(200);
    expect((await call('DELETE', '/api/v1/environments/tmp', adminToken)).status).toBe(204);
    const [again] = (await json(call('GET', '/api/v1/trash?kind=environment', viewer))).items as Json[];
    expect((await call('DELETE', `/api/v1/trash/${again.id}`, adminToken)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/trash/${again.id}`, adminToken)).status).toBe(404);
    expect((await call('POST', '/api/v1/environments/tmp/restore', adminToken)).status).toBe(404);
  });
});
