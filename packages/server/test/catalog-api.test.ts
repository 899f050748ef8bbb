import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { verifySignedManifest } from '../src/catalog/signing.ts';
import { openDatabase } from '../src/db/connection.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
type Json = any;
const json = async (res: Response | Promise<Response>): Promise<Json> => (await res).json();

const manifest = { run: { command: './bin/app', args: ['--role', '%%role%%'] }, health: { tcp: { port: 8080 } } };

describeEachStore(allStoreKinds)('catalog API on %s', (kind) => {
  let server: TestServer;
  let viewerToken: string;
  let agentToken: string;
  /** The credential of an agent of `prod` on instance `host-1`. */
  let agentCred: string;
  let artifact: string;
  let bytes: Buffer;
  const call = (method: string, path: string, token: string | null = adminToken, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body && typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string>),
      },
    });
  const upload = (service: string, version: string, body: Buffer, query = '', token = adminToken) =>
    call('PUT', `/api/v1/services/${service}/versions/${version}${query}`, token, {
      body,
      headers: { 'content-type': 'application/gzip' },
    });
  const tmpDir = () => join(server.dir, 'artifacts', 'tmp');
  const desire = (set: Record<string, string>) =>
    call('PATCH', '/api/v1/environments/prod/desired', adminToken, { body: JSON.stringify({ set }) });

  beforeAll(async () => {
    server = await startTestServer(kind);
    expect((await call('POST', '/api/v1/environments', adminToken, { body: '{"name":"prod"}' })).status).toBe(201);
    const db = openDatabase(server.database);
    const store = new TokenStore(db.db);
    viewerToken = (await store.create('viewer', 'viewer')).token;
    agentToken = (await store.create('agent-1', 'agent', undefined, { kind: 'agent', environment: 'prod' })).token;
    await db.close();
    agentCred = await agentCredentialFor(server.url, agentToken, 'host-1');
    artifact = await makeArtifact(manifest, { 'bin/app': '#!/bin/sh\necho hi\n', 'data.bin': 'x'.repeat(5000) });
    bytes = readFileSync(artifact);
    expect((await call('POST', '/api/v1/services', adminToken, { body: JSON.stringify({ name: 'web' }) })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('manages services and profiles with roles', async () => {
    expect((await call('POST', '/api/v1/services', viewerToken, { body: '{"name":"x"}' })).status).toBe(403);
    expect((await call('POST', '/api/v1/services', adminToken, { body: '{"name":"Bad"}' })).status).toBe(400);
    expect((await call('POST', '/api/v1/services', adminToken, { body: '{"name":"web"}' })).status).toBe(409);
    expect((await call('POST', '/api/v1/services', adminToken, { body: '{"name":"db"}' })).status).toBe(201);
    const list = await json(call('GET', '/api/v1/services', viewerToken));
    expect(list.services.map((s: { name: string }) => s.name)).toEqual(['db', 'web']);
    expect((await call('GET', '/api/v1/services', null)).status).toBe(401);
    expect((await call('GET', '/api/v1/services', agentToken)).status).toBe(403);
    const patched = await call('PATCH', '/api/v1/services/db', adminToken, { body: '{"maxHistorySize":7}' });
    expect(await json(patched)).toMatchObject({ name: 'db', maxHistorySize: 7 });

    const put = await call('PUT', '/api/v1/profiles/backend', adminToken, { body: '{"services":["db","web"]}' });
    expect(await json(put)).toMatchObject({ name: 'backend', services: ['db', 'web'] });
    const bad = await call('PUT', '/api/v1/profiles/backend', adminToken, { body: '{"services":["nope"]}' });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toContain('nope');
    expect((await json(call('GET', '/api/v1/profiles', viewerToken))).profiles).toHaveLength(1);
    expect((await call('DELETE', '/api/v1/services/db')).status).toBe(409);
    expect((await call('DELETE', '/api/v1/profiles/backend')).status).toBe(204);
    expect((await call('DELETE', '/api/v1/services/db')).status).toBe(204);
    expect((await call('GET', '/api/v1/profiles/backend', viewerToken)).status).toBe(404);
  });

  it('publishes a .tar.gz with a signed manifest, and refuses it again', async () => {
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect((await upload('web', '1.0.0', bytes, '', viewerToken)).status).toBe(403);
    const res = await upload('web', '1.0.0', bytes, `?sha256=${sha}&notes=first`);
    expect(res.status).toBe(201);
    const v = await json(res);
    expect(v).toMatchObject({
      service: 'web',
      version: '1.0.0',
      digest: `sha256:${sha}`,
      size: bytes.length,
      notes: 'first',
      author: 'FLOTILLA_ADMIN_TOKEN',
      manifest,
    });
    expect(existsSync(join(server.dir, 'artifacts', 'sha256', sha.slice(0, 2), sha))).toBe(true);
    const again = await upload('web', '1.0.0', bytes);
    expect(again.status).toBe(409);
    expect((await desire({ web: '1.0.0' })).status).toBe(200);

    const key = await json(call('GET', '/api/v1/signing-key', null));
    expect(key.keyId).toBe(v.keyId);
    const shown = await json(call('GET', '/api/v1/services/web/versions/1.0.0', agentCred));
    expect(verifySignedManifest(key.publicKeyPem, shown)).toBe(true);
    expect(
      verifySignedManifest(key.publicKeyPem, {
        ...shown,
        signedManifest: shown.signedManifest.replace('1.0.0', '1.0.1'),
      }),
    ).toBe(false);
    const list = await json(call('GET', '/api/v1/services/web/versions', viewerToken));
    expect(list.versions.map((x: { version: string }) => x.version)).toContain('1.0.0');
  });

  it('serves the artifact with its digest, whole and by range, to viewers and agents', async () => {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const whole = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', agentCred);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"sha256:${sha}"`);
    expect(whole.headers.get('x-checksum-sha256')).toBe(sha);
    expect(whole.headers.get('content-length')).toBe(String(bytes.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    const part = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', viewerToken, {
      headers: { range: 'bytes=10-19' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    const tail = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', viewerToken, {
      headers: { range: `bytes=${bytes.length - 5}-` },
    });
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 5))).toBe(true);
    const beyond = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', viewerToken, {
      headers: { range: `bytes=${bytes.length}-` },
    });
    expect(beyond.status).toBe(416);
    expect((await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', null)).status).toBe(401);
    expect((await call('GET', '/api/v1/services/web/versions/9.0.0/artifact', agentCred)).status).toBe(404);
  });

  it('an agent token cannot download a version never desired', async () => {
    // A version published but desired nowhere (it might hold a config.env with a password).
    expect((await upload('web', '3.0.0-secret', bytes)).status).toBe(201);
    for (const path of [
      '/api/v1/services/web/versions/3.0.0-secret',
      '/api/v1/services/web/versions/3.0.0-secret/artifact',
    ]) {
      const refused = await call('GET', path, agentCred);
      expect(refused.status).toBe(404);
      // The same answer as for a version that does not exist: existence is not revealed.
      expect((await json(refused)).error.message).toBe('service "web" has no version 3.0.0-secret');
      expect((await call('GET', path, viewerToken)).status).toBe(200);
    }
    // Desired now: reachable; still reachable while it is among the recent revisions.
    expect((await desire({ web: '3.0.0-secret' })).status).toBe(200);
    expect((await call('GET', '/api/v1/services/web/versions/3.0.0-secret/artifact', agentCred)).status).toBe(200);
    expect((await desire({ web: '1.0.0' })).status).toBe(200);
    expect((await call('GET', '/api/v1/services/web/versions/3.0.0-secret/artifact', agentCred)).status).toBe(200);
  });

  it("keeps an agent token bound to a profile to that profile's services", async () => {
    expect((await call('POST', '/api/v1/services', adminToken, { body: '{"name":"billing"}' })).status).toBe(201);
    expect((await call('PUT', '/api/v1/profiles/edge', adminToken, { body: '{"services":["web"]}' })).status).toBe(200);
    const db = openDatabase(server.database);
    const edgeToken = (
      await new TokenStore(db.db).create('edge-1', 'agent', undefined, {
        kind: 'agent',
        environment: 'prod',
        profile: 'edge',
      })
    ).token;
    await db.close();
    const edge = await agentCredentialFor(server.url, edgeToken, 'edge-host');
    expect((await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', edge)).status).toBe(200);
    const denied = await call('GET', '/api/v1/services/billing/versions/1.0.0/artifact', edge);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { message: string } }).error.message).toContain(
      'profile "edge", which does not include billing',
    );
    expect((await call('GET', '/api/v1/services/billing/versions/1.0.0', edge)).status).toBe(403);
    // Tokens without a profile are unaffected.
    expect((await call('GET', '/api/v1/services/billing/versions/1.0.0/artifact', agentCred)).status).toBe(404);
  });

  it('refuses a digest mismatch, a bad manifest, an escaping archive and a bad name', async () => {
    const mismatch = await upload('web', '2.0.0', bytes, `?sha256=${'0'.repeat(64)}`);
    expect(mismatch.status).toBe(400);
    expect((await json(mismatch)).error.message).toContain('digest mismatch');
    const badManifest = await upload('web', '2.0.0', readFileSync(await makeArtifact({ run: { command: 5 } })));
    expect(badManifest.status).toBe(400);
    expect((await json(badManifest)).error.message).toBe('flotilla.json: /run/command: expected string');
    const escaping = await upload(
      'web',
      '2.0.0',
      readFileSync(await makeArtifact(manifest, {}, [`../escape-${process.pid}-${Date.now()}`])),
    );
    expect(escaping.status).toBe(400);
    expect((await json(escaping)).error.message).toContain('escapes the archive root');
    const badName = await upload('web', 'latest', bytes);
    expect(badName.status).toBe(400);
    expect((await call('GET', '/api/v1/services/web/versions/2.0.0', viewerToken)).status).toBe(404);
    expect(readdirSync(tmpDir())).toEqual([]);
  });

  it('leaves no temp file and no version when the client aborts mid-upload', async () => {
    const controller = new AbortController();
    let sent = 0;
    let sawTempFile = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (sent === 0) {
          sent++;
          ctrl.enqueue(new Uint8Array(256 * 1024));
          return;
        }
        // Wait until the server is writing the temp file, then cut the upload.
        for (let i = 0; i < 200 && readdirSync(tmpDir()).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        sawTempFile = readdirSync(tmpDir()).length === 1;
        controller.abort();
      },
    });
    await expect(
      fetch(`${server.url}/api/v1/services/web/versions/3.0.0`, {
        method: 'PUT',
        body,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
        signal: controller.signal,
        duplex: 'half',
      } as RequestInit),
    ).rejects.toThrow();
    expect(sawTempFile).toBe(true);
    for (let i = 0; i < 200 && readdirSync(tmpDir()).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(tmpDir())).toEqual([]);
    expect((await call('GET', '/api/v1/services/web/versions/3.0.0', viewerToken)).status).toBe(404);
  });
});
