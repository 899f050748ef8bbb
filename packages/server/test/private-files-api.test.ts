import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { openDatabase } from '../src/db/connection.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
type Json = any;
const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret-enough\n');

describeEachStore(allStoreKinds)('private files API on %s', (kind) => {
  let server: TestServer;
  let viewerToken: string;
  let developerToken: string;
  const call = (method: string, path: string, token: string | null, body?: Buffer, type = 'application/octet-stream') =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': type } : {}) },
      ...(body ? { body } : {}),
    });
  const files = (token = developerToken) => call('GET', '/api/v1/services/web/private-files', token);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const db = openDatabase(server.database);
    const store = new TokenStore(db.db);
    viewerToken = (await store.create('viewer', 'viewer')).token;
    developerToken = (await store.create('dev', 'developer')).token;
    await db.close();
    const created = await fetch(`${server.url}/api/v1/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'web' }),
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores an upload encrypted, lists it by path, size and hash, and never shows the content', async () => {
    const put = await call('PUT', '/api/v1/services/web/private-files/conf/license.key', developerToken, secret);
    expect(put.status).toBe(200);
    const sha256 = createHash('sha256').update(secret).digest('hex');
    expect(await put.json()).toMatchObject({
      path: 'conf/license.key',
      size: secret.length,
      sha256,
      updatedBy: 'token:dev',
    });
    const listed: Json = await (await files()).json();
    expect(listed.files).toEqual([
      { path: 'conf/license.key', size: secret.length, sha256, updatedAt: expect.any(String), updatedBy: 'token:dev' },
    ]);
    // At rest: ciphertext only, under a key kept private in the data directory.
    const db = openDatabase(server.database);
    try {
      const row = await db.db.selectFrom('private_files').selectAll().executeTakeFirstOrThrow();
      const stored = Buffer.from(row.ciphertext, 'base64');
      expect(stored.length).toBe(secret.length + 16);
      expect(stored.includes(Buffer.from('not-a-real-key'))).toBe(false);
      expect(JSON.stringify(row)).not.toContain('not-a-real-key');
      const audit = await db.db.selectFrom('audit_log').select(['action', 'after_json']).execute();
      const upload = audit.find((a) => a.action === 'private-file.put');
      expect(upload?.after_json).toContain('conf/license.key');
      expect(upload?.after_json).not.toContain('not-a-real-key');
    } finally {
      await db.close();
    }
    expect(statSync(join(server.dir, 'private-files.key')).mode & 0o777).toBe(0o600);
    // Replacing keeps one entry with the new hash.
    const next = Buffer.from('another secret');
    expect(
      (await call('PUT', '/api/v1/services/web/private-files/conf/license.key', developerToken, next)).status,
    ).toBe(200);
    const again: Json = await (await files()).json();
    expect(again.files.map((f: Json) => f.sha256)).toEqual([createHash('sha256').update(next).digest('hex')]);
  });

  it('refuses viewers, strangers, bad paths, other content types, unknown services and oversized files', async () => {
    expect((await files(viewerToken)).status).toBe(403);
    expect((await call('GET', '/api/v1/services/web/private-files', null)).status).toBe(401);
    expect((await call('PUT', '/api/v1/services/web/private-files/a.txt', viewerToken, secret)).status).toBe(403);
    const dotted = await call('PUT', '/api/v1/services/web/private-files/a%2F..%2Fb', developerToken, secret);
    expect(dotted.status).toBe(400);
    expect(((await dotted.json()) as Json).error.message).toMatch(/segments/);
    expect(
      (await call('PUT', '/api/v1/services/web/private-files/a.txt', developerToken, secret, 'text/plain')).status,
    ).toBe(415);
    expect((await call('PUT', '/api/v1/services/nope/private-files/a.txt', developerToken, secret)).status).toBe(404);
    const big = await call(
      'PUT',
      '/api/v1/services/web/private-files/big.bin',
      developerToken,
      Buffer.alloc(1024 * 1024 + 1),
    );
    expect(big.status).toBe(413);
    expect(((await (await files()).json()) as Json).files.map((f: Json) => f.path)).not.toContain('big.bin');
  });

  it('removes a file once, and says so the second time', async () => {
    expect((await call('PUT', '/api/v1/services/web/private-files/tmp/x', developerToken, secret)).status).toBe(200);
    expect((await call('DELETE', '/api/v1/services/web/private-files/tmp/x', developerToken)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/services/web/private-files/tmp/x', developerToken)).status).toBe(404);
    expect(((await (await files()).json()) as Json).files.map((f: Json) => f.path)).not.toContain('tmp/x');
  });
});
