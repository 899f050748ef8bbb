import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalS3, s3rverCredentials, startLocalS3 } from '../src/blobs/s3rver.test.helper.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { faultMeta, makeFaultArchive } from '../src/faults/archive.test.helper.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const mib = 1024 ** 2;
const awsVariables = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Sends the head and `sendBytes` of a PUT declaring `total` bytes, then drops the connection. */
function abandonUpload(url: string, path: string, total: number, sendBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, {
      method: 'PUT',
      headers: {
        authorization: 'Bearer flt_test_admin_token_0123456789abcdef',
        'content-type': 'application/gzip',
        'content-length': total,
      },
    });
    req.on('error', () => resolve());
    req.write(randomBytes(sendBytes), () => setTimeout(() => req.destroy(), 200));
    req.on('close', () => resolve());
  });
}

describeEachStore(allStoreKinds)('artifacts and fault archives in S3 (s3rver) on %s', (kind) => {
  let s3: LocalS3;
  let server: TestServer;
  const saved = new Map<string, string | undefined>();
  const call = (method: string, path: string, opts: Parameters<typeof callApi>[3] = {}) =>
    callApi(server.url, method, path, opts);

  beforeAll(async () => {
    s3 = await startLocalS3();
    // The server takes credentials the standard AWS way, never from the URL.
    for (const name of awsVariables) saved.set(name, process.env[name]);
    process.env.AWS_ACCESS_KEY_ID = s3rverCredentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3rverCredentials.secretAccessKey;
    server = await startTestServer(kind, {
      blobStore: `s3://${s3.bucket}/replicas?endpoint=${s3.endpoint}&region=us-east-1&forcePathStyle=true&partSize=5`,
    });
    expect((await call('POST', '/api/v1/services', { body: { name: 'web' } })).status).toBe(201);
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.close();
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('publishes a multipart artifact into the bucket and serves it back, whole and by range', async () => {
    // Random bytes do not compress: the .tar.gz is over two 5 MiB parts.
    const file = await makeArtifact(
      { run: { command: './bin/app' } },
      { 'data.b64': randomBytes(11 * mib).toString('base64') },
    );
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(10 * mib);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const put = await call('PUT', `/api/v1/services/web/versions/1.0.0?sha256=${sha}`, { raw: bytes });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    expect(await s3.keys()).toEqual([`replicas/artifacts/sha256/${sha.slice(0, 2)}/${sha}`]);
    // Nothing of it stays in the data directory: staging is emptied, no local blob.
    expect(existsSync(join(server.dir, 'artifacts', 'sha256'))).toBe(false);
    expect(readdirSync(join(server.dir, 'artifacts', 'tmp'))).toEqual([]);

    const whole = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact');
    expect(whole.status).toBe(200);
    expect(whole.headers.get('x-checksum-sha256')).toBe(sha);
    expect(whole.bytes.equals(bytes)).toBe(true);
    const part = await call('GET', '/api/v1/services/web/versions/1.0.0/artifact', {
      headers: { range: `bytes=${6 * mib}-${6 * mib + 99}` },
    });
    expect(part.status).toBe(206);
    expect(part.bytes.equals(bytes.subarray(6 * mib, 6 * mib + 100))).toBe(true);

    // A digest mismatch is refused and adds nothing.
    const mismatch = await call('PUT', `/api/v1/services/web/versions/1.0.1?sha256=${'0'.repeat(64)}`, { raw: bytes });
    expect(mismatch.status).toBe(400);
    expect(await s3.keys()).toHaveLength(1);
  });

  it('leaves no row and no object when the client drops an artifact upload halfway', async () => {
    const before = await s3.keys();
    await abandonUpload(server.url, '/api/v1/services/web/versions/2.0.0', 12 * mib, 3 * mib);
    await expect.poll(() => readdirSync(join(server.dir, 'artifacts', 'tmp')), { timeout: 10_000 }).toEqual([]);
    expect((await call('GET', '/api/v1/services/web/versions/2.0.0')).status).toBe(404);
    expect(await s3.keys()).toEqual(before);
  });

  it('stores an uploaded fault archive in the bucket and serves it back', async () => {
    const minted = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent-prod', environment: 'prod' },
    });
    expect(minted.status).toBe(201);
    const agent = await agentCredentialFor(server.url, minted.body.token, 'host-1');
    const file = await makeFaultArchive({
      meta: faultMeta(),
      files: { 'core.1': randomBytes(64 * 1024).toString('hex') },
    });
    const created = await call('POST', '/api/v1/agent/faults', { token: agent, raw: readFileSync(file) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect(await s3.keys()).toContain(`replicas/faults/${id}.tar.gz`);
    expect(existsSync(join(server.dir, 'faults', `${id}.tar.gz`))).toBe(false);
    const got = await call('GET', `/api/v1/faults/${id}/archive`);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(readFileSync(file))).toBe(true);
  });
});
