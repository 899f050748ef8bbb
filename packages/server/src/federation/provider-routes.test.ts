import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../../test/support/api.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { DigestMismatch, downloadVerified } from './download.ts';
import { publishOn, setUpProvider } from './federation.test.helper.ts';

describe('provider routes', () => {
  let provider: TestServer;
  let token: string;
  const base = () => provider.url;

  beforeAll(async () => {
    provider = await startTestServer('sqlite', {}, { start: { federation: { feedIntervalMs: 50 } } });
    token = await setUpProvider(provider.url);
  });
  afterAll(async () => {
    await provider?.stop();
  });

  it('shows the token once, stores only its digest, and lists the account', async () => {
    expect(token).toMatch(/^flc_[A-Za-z0-9_-]{43}$/);
    const list = await callApi(base(), 'GET', '/api/v1/consumers');
    expect(list.body.consumers).toMatchObject([{ name: 'acme', profile: 'partner', revokedAt: null }]);
    expect(JSON.stringify(list.body)).not.toContain(token);
    const again = await callApi(base(), 'POST', '/api/v1/consumers', { body: { name: 'acme', profile: 'partner' } });
    expect(again.status).toBe(409);
    const noProfile = await callApi(base(), 'POST', '/api/v1/consumers', { body: { name: 'x', profile: 'nope' } });
    expect(noProfile.status).toBe(400);
  });

  it('admits the consumer token only to the federation routes and only to its profile', async () => {
    expect((await callApi(base(), 'GET', '/api/v1/services', { token })).status).toBe(401);
    expect((await callApi(base(), 'GET', '/api/v1/consumers', { token })).status).toBe(401);
    expect((await callApi(base(), 'GET', '/api/v1/federation/feed')).status).toBe(401);
    const feed = await callApi(base(), 'GET', '/api/v1/federation/feed', { token });
    expect(feed.status).toBe(200);
    expect(feed.body.versions.map((v: { service: string }) => v.service)).toEqual(['web']);
    expect(feed.body.signingKey.publicKeyPem).toContain('PUBLIC KEY');
    expect((await callApi(base(), 'GET', '/api/v1/federation/versions/db/1.0.0', { token })).status).toBe(403);
    expect((await callApi(base(), 'GET', '/api/v1/federation/versions/db/1.0.0/artifact', { token })).status).toBe(403);
    const v = await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.0.0', { token });
    expect(v.body).toMatchObject({ service: 'web', version: '1.0.0' });
    expect(JSON.parse(v.body.signedManifest).digest).toBe(v.body.digest);
  });

  it('serves artifact ranges so a download can resume', async () => {
    const whole = await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.0.0/artifact', { token });
    expect(whole.status).toBe(200);
    const part = await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.0.0/artifact', {
      token,
      headers: { range: 'bytes=10-' },
    });
    expect(part.status).toBe(206);
    expect(Buffer.concat([whole.bytes.subarray(0, 10), part.bytes]).equals(whole.bytes)).toBe(true);
  });

  it('resumes a partial download, and removes a file whose digest is not the signed one', async () => {
    const whole = await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.0.0/artifact', { token });
    const v = (await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.0.0', { token })).body;
    const dir = makeTempDir('flotilla-dl-');
    const hex = v.digest.slice('sha256:'.length);
    writeFileSync(join(dir, `${hex}.part`), whole.bytes.subarray(0, 100));
    const url = `${base()}/api/v1/federation/versions/web/1.0.0/artifact`;
    const headers = { authorization: `Bearer ${token}` };
    const file = await downloadVerified({ url, headers, dir, digest: v.digest, size: v.size });
    expect(readFileSync(file).equals(whole.bytes)).toBe(true);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(downloadVerified({ url, headers, dir, digest: wrong, size: v.size })).rejects.toBeInstanceOf(
      DigestMismatch,
    );
    expect(existsSync(join(dir, `${'0'.repeat(64)}.part`))).toBe(false);
    expect(readdirSync(dir)).toEqual([`${hex}.part`]);
  });

  it('long-polls the feed until a version of the profile is published', async () => {
    const first = await callApi(base(), 'GET', '/api/v1/federation/feed', { token });
    const started = Date.now();
    const waiting = callApi(base(), 'GET', `/api/v1/federation/feed?since=${first.body.cursor}&wait=20s`, { token });
    await new Promise((r) => setTimeout(r, 300));
    await publishOn(base(), 'web', '1.1.0');
    const next = await waiting;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(next.body.cursor).not.toBe(first.body.cursor);
    expect(next.body.versions[0]).toMatchObject({ service: 'web', version: '1.1.0' });
    const idle = await callApi(base(), 'GET', `/api/v1/federation/feed?since=${next.body.cursor}&wait=1s`, { token });
    expect(idle.body.cursor).toBe(next.body.cursor);
  });

  it('keeps the latest report of the profile services only, with a bounded body', async () => {
    const report = {
      instances: [
        { environment: 'prod', instanceId: 'h1', service: 'web', version: '1.0.0', state: 'running', reportedAt: null },
        { environment: 'prod', instanceId: 'h1', service: 'db', version: '1.0.0', state: 'running', reportedAt: null },
      ],
      faults: [],
    };
    expect((await callApi(base(), 'POST', '/api/v1/federation/report', { token, body: report })).status).toBe(204);
    const fleet = await callApi(base(), 'GET', '/api/v1/consumers/acme/fleet');
    expect(fleet.body.instances).toEqual([report.instances[0]]);
    expect(fleet.body.receivedAt).not.toBeNull();
    const huge = { instances: [], faults: [], pad: 'x'.repeat(3 * 1024 * 1024) };
    expect((await callApi(base(), 'POST', '/api/v1/federation/report', { token, body: huge })).status).toBe(413);
  });

  it('offers a consumer gated on a test consumer only the versions that one reported tested', async () => {
    const prod = await callApi(base(), 'POST', '/api/v1/consumers', {
      body: { name: 'acme-prod', profile: 'partner', testConsumer: 'acme' },
    });
    expect(prod.status).toBe(201);
    expect(prod.body.consumer.testConsumer).toBe('acme');
    const prodToken = prod.body.token;
    const before = await callApi(base(), 'GET', '/api/v1/federation/feed', { token: prodToken });
    expect(before.body.versions).toEqual([]);
    const report = { instances: [], faults: [], tested: [{ service: 'web', version: '1.0.0' }] };
    expect((await callApi(base(), 'POST', '/api/v1/federation/report', { token, body: report })).status).toBe(204);
    const after = await callApi(base(), 'GET', '/api/v1/federation/feed', { token: prodToken });
    expect(after.body.versions.map((v: { version: string }) => v.version)).toEqual(['1.0.0']);
    const untested = await callApi(base(), 'GET', '/api/v1/federation/versions/web/1.1.0', { token: prodToken });
    expect(untested.status).toBe(403);
    const wrongProfile = await callApi(base(), 'POST', '/api/v1/consumers', {
      body: { name: 'x', profile: 'partner', testConsumer: 'nobody' },
    });
    expect(wrongProfile.status).toBe(400);
  });

  it('refuses a revoked token with a message that says so, ending a waiting feed at once', async () => {
    const first = await callApi(base(), 'GET', '/api/v1/federation/feed', { token });
    const started = Date.now();
    const waiting = callApi(base(), 'GET', `/api/v1/federation/feed?since=${first.body.cursor}&wait=30s`, { token });
    await new Promise((r) => setTimeout(r, 300));
    const revoked = await callApi(base(), 'POST', '/api/v1/consumers/acme/revoke');
    const ended = await waiting;
    expect(ended.status).toBe(401);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(revoked.body.revokedAt).not.toBeNull();
    const feed = await callApi(base(), 'GET', '/api/v1/federation/feed', { token });
    expect(feed.status).toBe(401);
    expect(feed.body.error.message).toContain('revoked');
  });
});
