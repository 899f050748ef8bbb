// Host trackers: applied per environment by admins (validated, audited), fetched signed by agents.
import { createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '@flotilla/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentCredentialFor } from '../../test/support/agent-credential.ts';
import { type ApiCallOptions, callApi } from '../../test/support/api.ts';
import { allStoreKinds, describeEachStore } from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { TokenStore } from '../auth/tokens.ts';
import { type Database, openDatabase } from '../db/connection.ts';
import { type TrackerStatement, trackerLimits } from './tracker-service.ts';

const nginx = {
  apiVersion: 'opvic.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name: 'nginx' },
  spec: {
    name: 'nginx',
    resources: { strategy: 'Command', command: ['nginx', '-v'] },
    localVersion: { extraction: { regex: { pattern: 'nginx/([0-9.]+)' } } },
    remoteVersion: { provider: 'endoflife', repo: 'nginx' },
  },
};
const host = (name: string, resources: Record<string, unknown>) => ({
  kind: 'VersionTracker',
  metadata: { name },
  spec: { name, resources },
});
const bash = host('bash', { strategy: 'Package', package: 'bash' });
const osRelease = host('os', { strategy: 'File', path: '/etc/os-release' });

describeEachStore(allStoreKinds)('host trackers on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let viewer: string;
  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const apply = (env: string, trackers: unknown[], prune = false, token?: string) =>
    call('PUT', `/api/v1/drift/trackers?environment=${env}`, { body: { trackers, prune }, token });
  const agent = async (env: string, instanceId: string) => {
    const minted = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: instanceId, environment: env },
    });
    expect(minted.status).toBe(201);
    return agentCredentialFor(server.url, minted.body.token, instanceId);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    for (const name of ['production', 'staging']) {
      expect((await call('POST', '/api/v1/environments', { body: { name } })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('applies like kubectl apply: upserts, leaves others, prunes only when asked, and audits', async () => {
    let res = await apply('production', [nginx, bash]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ created: ['nginx', 'bash'], updated: [], unchanged: [], pruned: [] });
    const changed = { ...bash, spec: { ...bash.spec, resources: { strategy: 'Package', package: 'bash:amd64' } } };
    res = await apply('production', [changed, osRelease]);
    expect(res.body).toEqual({ created: ['os'], updated: ['bash'], unchanged: [], pruned: [] });
    res = await apply('production', [osRelease], true);
    expect(res.body).toEqual({ created: [], updated: [], unchanged: ['os'], pruned: ['bash', 'nginx'] });

    const list = await call('GET', '/api/v1/drift/trackers?environment=production', { token: viewer });
    expect(list.status).toBe(200);
    expect(list.body.trackers.map((t: { name: string }) => t.name)).toEqual(['os']);
    expect(list.body.trackers[0]).toMatchObject({
      updatedBy: 'token:FLOTILLA_ADMIN_TOKEN',
      tracker: { apiVersion: expect.any(String) },
    });
    const audit = await store.db
      .selectFrom('audit_log')
      .select(['action', 'target'])
      .where('action', 'like', 'drift.%')
      .execute();
    expect(audit).toEqual(Array(3).fill({ action: 'drift.trackers.apply', target: 'env:production' }));

    expect((await call('DELETE', '/api/v1/drift/trackers/production/os')).status).toBe(204);
    expect((await call('DELETE', '/api/v1/drift/trackers/production/os')).status).toBe(404);
    const deleted = await store.db
      .selectFrom('audit_log')
      .select(['target', 'before_json'])
      .where('action', '=', 'drift.tracker.delete')
      .execute();
    expect(deleted).toEqual([{ target: 'env:production', before_json: expect.stringContaining('/etc/os-release') }]);
    const empty = await call('GET', '/api/v1/drift/trackers?environment=production', { token: viewer });
    expect(empty.body.trackers).toEqual([]);
  });

  it('refuses bad trackers with 400 naming each field, and stores none of the batch', async () => {
    const badRegex = { ...nginx, spec: { ...nginx.spec, localVersion: { extraction: { regex: { pattern: '(' } } } } };
    const pods = host('coredns', { strategy: 'Pods', selector: { matchLabels: { app: 'coredns' } } });
    const noPath = host('cfg', { strategy: 'File' });
    const res = await apply('staging', [osRelease, badRegex, pods, noPath, { ...osRelease }]);
    expect(res.status).toBe(400);
    const message: string = res.body.error.message;
    expect(message).toMatch(/trackers\[1\]\.spec\.localVersion\.extraction\.regex: /);
    expect(message).toMatch(
      /trackers\[2\]\.spec\.resources\.strategy: "Pods" is not a host strategy.*custom resources/,
    );
    expect(message).toMatch(/trackers\[3\]\.spec\.resources\.path: required for File/);
    expect(message).toMatch(/trackers\[4\]\.metadata\.name: "os" is also trackers\[0\]/);
    const defaulted = await apply('staging', [
      { kind: 'VersionTracker', metadata: { name: 'x' }, spec: { name: 'x' } },
    ]);
    expect(defaulted.body.error.message).toMatch(/trackers\[0\]\.spec\.resources\.strategy: the default Pods/);
    const unknown = await apply('staging', [{ ...osRelease, spec: { ...osRelease.spec, extra: 1 } }]);
    expect(unknown.body.error.message).toBe('trackers[0].spec.extra: unknown field');
    const notList = await call('PUT', '/api/v1/drift/trackers?environment=staging', { body: { trackers: {} } });
    expect(notList.status).toBe(400);
    expect(notList.body.error.message).toMatch(/^trackers: /);
    const tooMany = await apply('staging', Array(trackerLimits.perEnvironment + 1).fill(osRelease));
    expect(tooMany.status).toBe(400);
    expect((await apply('nowhere', [osRelease])).status).toBe(404);
    const big = { ...osRelease, metadata: { name: 'os', annotations: { note: 'x'.repeat(20_000) } } };
    const tooBig = await apply('staging', [big]);
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toMatch(/^trackers\[0\]: \d+ bytes of JSON, limit 16384$/);
    const huge = Array.from({ length: 100 }, (_, i) => ({ ...big, metadata: { ...big.metadata, name: `os-${i}` } }));
    expect((await apply('staging', huge)).status).toBe(413);
    const list = await call('GET', '/api/v1/drift/trackers?environment=staging');
    expect(list.body.trackers).toEqual([]);
  });

  it('refuses two trackers of one subject across applies', async () => {
    expect((await apply('staging', [osRelease])).status).toBe(200);
    const twin = { ...osRelease, metadata: { name: 'os-again' } };
    const res = await apply('staging', [twin]);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/"os-again" and "os" both track subject "os"|"os" and "os-again"/);
    expect((await call('DELETE', '/api/v1/drift/trackers/staging/os')).status).toBe(204);
  });

  it('lets only admins write and any viewer read', async () => {
    expect((await apply('production', [osRelease], false, viewer)).status).toBe(403);
    expect((await call('DELETE', '/api/v1/drift/trackers/production/os', { token: viewer })).status).toBe(403);
    expect((await call('GET', '/api/v1/drift/trackers?environment=production', { token: null })).status).toBe(401);
    const credential = await agent('production', 'host-reader');
    expect((await call('GET', '/api/v1/drift/trackers?environment=production', { token: credential })).status).toBe(
      403,
    );
  });

  it("serves each agent its own environment's set, signed, with 304 while nothing changed", async () => {
    expect((await apply('production', [nginx], true)).status).toBe(200);
    expect((await apply('staging', [bash], true)).status).toBe(200);
    const key = await call('GET', '/api/v1/signing-key');
    const token = await agent('staging', 'host-staging');
    const first = await call('GET', '/api/v1/agent/drift/trackers', { token });
    expect(first.status).toBe(200);
    const signature = Buffer.from(first.body.signature, 'base64');
    const publicKey = createPublicKey(key.body.publicKeyPem);
    expect(first.body.keyId).toBe(key.body.keyId);
    expect(verify(null, Buffer.from(first.body.statement), publicKey, signature)).toBe(true);
    const statement = JSON.parse(first.body.statement) as TrackerStatement;
    expect(canonicalJson(statement)).toBe(first.body.statement);
    expect(statement).toMatchObject({ kind: 'flotilla.drift-trackers', environment: 'staging' });
    // Its own environment only: staging's bash, never production's nginx.
    expect(statement.trackers.map((t) => t.metadata.name)).toEqual(['bash']);
    expect(Date.parse(statement.expiresAt) - Date.parse(statement.issuedAt)).toBe(3_600_000);

    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"trk-[0-9a-f]{32}"$/);
    const idle = await call('GET', '/api/v1/agent/drift/trackers', { token, headers: { 'if-none-match': etag } });
    expect(idle.status).toBe(304);
    expect((await apply('staging', [bash, osRelease])).status).toBe(200);
    const changed = await call('GET', '/api/v1/agent/drift/trackers', { token, headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    const names = (JSON.parse(changed.body.statement) as TrackerStatement).trackers.map((t) => t.metadata.name);
    expect(names).toEqual(['bash', 'os']);
    // Admin and viewer credentials are not agents.
    expect((await call('GET', '/api/v1/agent/drift/trackers')).status).toBe(403);
  });

  it('documents its routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths['/api/v1/drift/trackers'])).toEqual(expect.arrayContaining(['get', 'put']));
    expect(doc.body.paths['/api/v1/drift/trackers/{environment}/{name}'].delete).toBeDefined();
    expect(doc.body.paths['/api/v1/agent/drift/trackers'].get).toBeDefined();
  });
});
