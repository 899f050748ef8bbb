// The desired answer agents poll carries a statement signed by the server's key.
import { createPublicKey, verify } from 'node:crypto';
import { canonicalJson, type DesiredStatement } from '@flotilla/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { seedCatalog, seedProfile } from '../src/desired/testing.test.helper.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describeEachStore(allStoreKinds)('signed desired answers on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await call(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  /** A credential for `instanceId` from a fresh agent token of `env` (and `profile`). */
  const agent = async (env: string, instanceId: string, profile?: string) => {
    const minted = await ok(
      'POST',
      '/api/v1/tokens',
      { kind: 'agent', name: instanceId, environment: env, profile },
      201,
    );
    return agentCredentialFor(server.url, minted.token, instanceId);
  };
  const desired = async (token: string, instanceId: string) => {
    const res = await call('GET', `/api/v1/agent/desired?instance=${instanceId}`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    await seedCatalog(store.db, { web: ['1.0.0', '2.0.0'], api: ['1.0.0'] });
    await seedProfile(store.db, 'edge', ['web']);
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    await ok('PATCH', '/api/v1/environments/production/desired', { set: { web: '1.0.0', api: '1.0.0' } });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('signs environment, profile, revision, and each service with version, digest and size', async () => {
    const key = await ok('GET', '/api/v1/signing-key');
    const token = await agent('production', 'host-1');
    const answer = await desired(token, 'host-1');
    expect(answer.keyId).toBe(key.keyId);
    const publicKey = createPublicKey(key.publicKeyPem);
    const signature = Buffer.from(answer.signature, 'base64');
    expect(verify(null, Buffer.from(answer.statement, 'utf8'), publicKey, signature)).toBe(true);
    const statement = JSON.parse(answer.statement) as DesiredStatement;
    expect(canonicalJson(statement)).toBe(answer.statement);
    expect(statement).toMatchObject({ environment: 'production', profile: null, revision: 1 });
    expect(statement.services).toEqual(
      answer.services.map((s: { service: string; version: string; digest: string; size: number }) => ({
        service: s.service,
        version: s.version,
        digest: s.digest,
        size: s.size,
      })),
    );
    expect(statement.services.map((s) => `${s.service}@${s.version}`)).toEqual(['api@1.0.0', 'web@1.0.0']);
    const issued = Date.parse(statement.issuedAt);
    expect(Math.abs(issued - Date.now())).toBeLessThan(60_000);
    expect(Date.parse(statement.expiresAt) - issued).toBe(3_600_000);
    // Changing one byte of the statement breaks the signature.
    const swapped = answer.statement.replace('"version":"1.0.0"}]', '"version":"2.0.0"}]');
    expect(swapped).not.toBe(answer.statement);
    expect(verify(null, Buffer.from(swapped, 'utf8'), publicKey, signature)).toBe(false);
  });

  it('reuses the signature across polls of one revision, and signs each new revision', async () => {
    const token = await agent('production', 'host-2');
    const first = await desired(token, 'host-2');
    const again = await desired(token, 'host-2');
    expect(again.statement).toBe(first.statement);
    expect(again.signature).toBe(first.signature);
    await ok('PATCH', '/api/v1/environments/production/desired', { set: { web: '2.0.0' } });
    const next = await desired(token, 'host-2');
    const statement = JSON.parse(next.statement) as DesiredStatement;
    expect(statement.revision).toBe(first.revision + 1);
    expect(statement.services.find((s) => s.service === 'web')?.version).toBe('2.0.0');
  });

  it("names the agent's profile and signs only its services", async () => {
    const token = await agent('production', 'edge-1', 'edge');
    const answer = await desired(token, 'edge-1');
    const statement = JSON.parse(answer.statement) as DesiredStatement;
    expect(statement.profile).toBe('edge');
    expect(statement.services.map((s) => s.service)).toEqual(['web']);
    expect(answer.services.map((s: { service: string }) => s.service)).toEqual(['web']);
  });
});
