import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../../test/support/api.ts';
import { freePort } from '../../test/support/ports.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { verifySignedManifest } from '../catalog/signing.ts';
import { openDatabase } from '../db/connection.ts';
import { eventually, publishOn, setUpProvider } from './federation.test.helper.ts';

const fast = { federation: { feedIntervalMs: 50, waitSeconds: 5, reportIntervalMs: 500 } };

describe('a consumer server following a provider', () => {
  let provider: TestServer;
  let consumer: TestServer;
  let token: string;

  beforeAll(async () => {
    provider = await startTestServer('sqlite', {}, { start: fast });
    token = await setUpProvider(provider.url);
    consumer = await startTestServer('sqlite', {}, { start: fast });
    await callApi(consumer.url, 'POST', '/api/v1/environments', { body: { name: 'prod' } });
  });
  afterAll(async () => {
    await consumer?.stop();
    await provider?.stop();
  });

  const version = (service: string, v: string) =>
    callApi(consumer.url, 'GET', `/api/v1/services/${service}/versions/${v}`).then((r) =>
      r.status === 200 ? r.body : undefined,
    );

  it('connects, pins the key, publishes the profile versions re-signed, and makes them desired', async () => {
    const connect = await callApi(consumer.url, 'PUT', '/api/v1/federation', {
      body: { providerUrl: provider.url, providerToken: token, environment: 'prod' },
    });
    expect(connect.status).toBe(200);
    const got = await eventually('web 1.0.0 on the consumer', () => version('web', '1.0.0'));
    const consumerKey = (await callApi(consumer.url, 'GET', '/api/v1/signing-key')).body;
    const providerKey = (await callApi(provider.url, 'GET', '/api/v1/signing-key')).body;
    expect(verifySignedManifest(consumerKey.publicKeyPem, got)).toBe(true);
    expect(verifySignedManifest(providerKey.publicKeyPem, got)).toBe(false);
    expect(got.notes).toContain(provider.url);
    expect((await callApi(consumer.url, 'GET', '/api/v1/services/db')).status).toBe(404);
    const desired = await eventually('web desired in prod', async () => {
      const d = (await callApi(consumer.url, 'GET', '/api/v1/environments/prod/desired')).body;
      return d?.versions?.web ? d : undefined;
    });
    expect(desired.versions).toEqual({ web: '1.0.0' });
    const pin = join(consumer.dir, 'federation', 'provider-key.json');
    expect(statSync(pin).mode & 0o777).toBe(0o600);
    expect(statSync(join(consumer.dir, 'federation', 'connection.json')).mode & 0o777).toBe(0o600);
    const status = (await callApi(consumer.url, 'GET', '/api/v1/federation')).body;
    expect(status).toMatchObject({
      state: 'following',
      consumer: 'acme',
      profile: 'partner',
      pinnedKeyId: providerKey.keyId,
    });
    expect(status.recent[0]).toMatchObject({ service: 'web', version: '1.0.0', providerUrl: provider.url });
  });

  it('receives a new provider version within seconds and reports back', async () => {
    const started = Date.now();
    await publishOn(provider.url, 'web', '1.1.0');
    // The target is 5 s (docs/benchmarks.md); a loaded test machine gets slack.
    await eventually('web 1.1.0 on the consumer', () => version('web', '1.1.0'), 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    await eventually('web 1.1.0 desired', async () => {
      const d = (await callApi(consumer.url, 'GET', '/api/v1/environments/prod/desired')).body;
      return d.versions.web === '1.1.0' ? true : undefined;
    });
    await eventually('a report at the provider', async () => {
      const fleet = (await callApi(provider.url, 'GET', '/api/v1/consumers/acme/fleet')).body;
      return fleet.receivedAt ? fleet : undefined;
    });
    // A version marked tested here reaches the provider with the next report (testConsumerMatch).
    expect(
      (await callApi(consumer.url, 'POST', '/api/v1/environments/prod/desired/mark-tested', { body: {} })).status,
    ).toBe(200);
    await eventually('the tested mark at the provider', async () => {
      const fleet = (await callApi(provider.url, 'GET', '/api/v1/consumers/acme/fleet')).body;
      return fleet.tested?.some((t: { version: string }) => t.version === '1.1.0') ? true : undefined;
    });
    // Nothing left behind in the download folder.
    const tmp = join(consumer.dir, 'federation', 'tmp');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });

  it('picks up where it stopped after a restart, skipping what it has', async () => {
    const history = async () =>
      (await callApi(consumer.url, 'GET', '/api/v1/environments/prod/desired/history')).body.revisions.length;
    const revisions = await history();
    await consumer.close();
    consumer = await startTestServer('sqlite', { database: consumer.database }, { dir: consumer.dir, start: fast });
    const status = await eventually('following again', async () => {
      const s = (await callApi(consumer.url, 'GET', '/api/v1/federation')).body;
      return s.state === 'following' && s.lastSyncAt ? s : undefined;
    });
    expect(status.received).toBe(0);
    expect(status.lastError).toBeNull();
    expect(await version('web', '1.1.0')).toBeDefined();
    expect(await history()).toBe(revisions);
  });

  it('refuses versions whose signature does not match a pinned key, publishing nothing', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const keyFile = join(makeTempDir('flotilla-key-'), 'provider.pem');
    writeFileSync(keyFile, other);
    const second = await provider.url;
    const tokenB = (await callApi(second, 'POST', '/api/v1/consumers', { body: { name: 'beta', profile: 'partner' } }))
      .body.token;
    const strict = await startTestServer(
      'sqlite',
      { providerUrl: provider.url, providerToken: tokenB, providerKey: keyFile },
      { start: fast },
    );
    try {
      const status = await eventually('refusals', async () => {
        const s = (await callApi(strict.url, 'GET', '/api/v1/federation')).body;
        return s.refused.length >= 2 ? s : undefined;
      });
      expect(status.refused[0].reason).toContain('does not match the pinned provider key');
      expect(status.received).toBe(0);
      expect((await callApi(strict.url, 'GET', '/api/v1/services/web')).status).toBe(404);
    } finally {
      await strict.stop();
    }
  });

  it('refuses a manifest altered at the provider, and publishes nothing of it', async () => {
    const db = openDatabase(provider.database);
    const row = await db.db
      .selectFrom('service_versions')
      .select('signed_manifest')
      .where('version', '=', '1.1.0')
      .executeTakeFirstOrThrow();
    // The same signature over a manifest that now names another digest.
    const altered = row.signed_manifest.replace(
      /"digest":"sha256:[0-9a-f]{64}"/,
      `"digest":"sha256:${'1'.repeat(64)}"`,
    );
    await db.db
      .updateTable('service_versions')
      .set({ signed_manifest: altered })
      .where('version', '=', '1.1.0')
      .execute();
    await db.close();
    const tokenC = (
      await callApi(provider.url, 'POST', '/api/v1/consumers', { body: { name: 'gamma', profile: 'partner' } })
    ).body.token;
    const fresh = await startTestServer(
      'sqlite',
      { providerUrl: provider.url, providerToken: tokenC },
      { start: fast },
    );
    try {
      const status = await eventually('a refusal', async () => {
        const st = (await callApi(fresh.url, 'GET', '/api/v1/federation')).body;
        return st.refused.length > 0 && st.received > 0 ? st : undefined;
      });
      expect(status.refused).toMatchObject([{ service: 'web', version: '1.1.0' }]);
      expect(status.refused[0].reason).toContain('signature');
      expect((await callApi(fresh.url, 'GET', '/api/v1/services/web/versions/1.0.0')).status).toBe(200);
      expect((await callApi(fresh.url, 'GET', '/api/v1/services/web/versions/1.1.0')).status).toBe(404);
      const tmp = join(fresh.dir, 'federation', 'tmp');
      expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    } finally {
      await fresh.stop();
    }
  });

  it('stops with state revoked when the provider revokes the token', async () => {
    await callApi(provider.url, 'POST', '/api/v1/consumers/acme/revoke');
    const status = await eventually('revoked', async () => {
      const s = (await callApi(consumer.url, 'GET', '/api/v1/federation')).body;
      return s.state === 'revoked' ? s : undefined;
    });
    expect(status.lastError).toContain('revoked');
    await publishOn(provider.url, 'web', '1.2.0');
    await new Promise((r) => setTimeout(r, 500));
    expect(await version('web', '1.2.0')).toBeUndefined();
  });

  it('backs off while the provider cannot be reached', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const lonely = await startTestServer(
      'sqlite',
      { providerUrl: nowhere, providerToken: `flc_${'x'.repeat(43)}` },
      { start: fast },
    );
    try {
      const s = await eventually('backoff', async () => {
        const st = (await callApi(lonely.url, 'GET', '/api/v1/federation')).body;
        return st.state === 'backoff' ? st : undefined;
      });
      expect(s.lastError).toBeTruthy();
      expect(s.providerUrl).toBe(nowhere);
    } finally {
      await lonely.stop();
    }
  });
});
