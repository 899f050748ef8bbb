import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { openDatabase } from '../src/db/connection.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
type Json = any;

const manifest = { run: { command: './bin/app' } };
const commit = 'a'.repeat(40);
const clientSection = (developerDigest: string, generation: number, inputs = 'c'.repeat(64)) => ({
  builder: 'flotilla client-version build test',
  developerVersion: '1.0.0',
  developerDigest,
  generation,
  settings: [{ name: 'acme', url: 'https://git.example.com/acme.git', ref: 'main', commit }],
  macros: ['region'],
  inputs,
  log: { sha256: 'b'.repeat(64), bytes: 10 },
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z',
});

describeEachStore(allStoreKinds)('client versions API on %s', (kind) => {
  let server: TestServer;
  let agentCred: string;
  let developerDigest: string;
  const call = async (method: string, path: string, init: { token?: string; body?: unknown } = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${init.token ?? adminToken}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Json) : text, raw: text };
  };
  const upload = async (version: string, file: string) => {
    const res = await fetch(`${server.url}/api/v1/services/web/versions/${encodeURIComponent(version)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
      body: readFileSync(file),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const list = async (query: string) =>
    (await call('GET', `/api/v1/services/web/versions${query}`)).body.versions.map((v: Json) => v.version);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const db = openDatabase(server.database);
    const agentToken = (
      await new TokenStore(db.db).create('agent-1', 'agent', undefined, { kind: 'agent', environment: 'prod' })
    ).token;
    await db.close();
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    expect((await call('POST', '/api/v1/services', { body: { name: 'web' } })).status).toBe(201);
    agentCred = await agentCredentialFor(server.url, agentToken, 'host-1');
    const developer = await upload('1.0.0', await makeArtifact(manifest, { 'conf/app.conf': 'port = 80\n' }));
    expect(developer.status).toBe(201);
    developerDigest = developer.body.digest;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('publishes a client version named like its developer version and tells the kinds apart', async () => {
    const file = await makeArtifact(
      { ...manifest, client: clientSection(developerDigest, 0) },
      { 'conf/app.conf': 'port = 9443\n' },
    );
    const created = await upload('1.0.0+client', file);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      version: '1.0.0+client',
      kind: 'client',
      name: '1.0.0',
      client: { developerVersion: '1.0.0', generation: 0, settings: [{ name: 'acme', commit }] },
    });
    // Listings keep showing developer versions unless asked; the kinds never share a name.
    expect(await list('')).toEqual(['1.0.0']);
    expect(await list('?kind=client')).toEqual(['1.0.0+client']);
    expect(await list('?kind=all')).toEqual(['1.0.0+client', '1.0.0']);
    const developer = await call('GET', '/api/v1/services/web/versions/1.0.0');
    expect(developer.body).toMatchObject({ kind: 'developer', name: '1.0.0', digest: developerDigest });
    expect(developer.body.client).toBeUndefined();

    const next = await upload(
      '1.0.0_1+client',
      await makeArtifact({ ...manifest, client: clientSection(developerDigest, 1, 'd'.repeat(64)) }),
    );
    expect(next.status).toBe(201);
    expect(await list('?kind=all')).toEqual(['1.0.0_1+client', '1.0.0+client', '1.0.0']);
  });

  it('refuses client versions whose name, section or developer version do not agree, keeping nothing', async () => {
    const cases: [string, unknown, string][] = [
      ['1.0.0_5+client', { ...manifest, client: clientSection(developerDigest, 4) }, 'is named 1.0.0_4+client'],
      ['1.0.0_7+client', manifest, 'has no "client" section'],
      ['1.0.0_8+client', { ...manifest, client: clientSection(`sha256:${'0'.repeat(64)}`, 8) }, 'was made from'],
      ['2.0.0', { ...manifest, client: clientSection(developerDigest, 0) }, 'publish it as a client version'],
      [
        '9.9.9+client',
        { ...manifest, client: { ...clientSection(developerDigest, 0), developerVersion: '9.9.9' } },
        'has no developer version 9.9.9',
      ],
    ];
    for (const [version, m, message] of cases) {
      const res = await upload(version, await makeArtifact(m));
      expect(res.status, version).toBe(400);
      expect(res.body.error.message).toContain(message);
    }
    expect(await list('?kind=all')).toEqual(['1.0.0_1+client', '1.0.0+client', '1.0.0']);
  });

  it('serves a desired client version to agents, who download the client artifact', async () => {
    const desired = await call('PATCH', '/api/v1/environments/prod/desired', {
      body: { set: { web: '1.0.0+client' } },
    });
    expect(desired.status).toBe(200);
    const view = await call('GET', '/api/v1/agent/desired', { token: agentCred });
    expect(view.body.services[0]).toMatchObject({
      service: 'web',
      version: '1.0.0+client',
      artifactUrl: '/api/v1/services/web/versions/1.0.0%2Bclient/artifact',
    });
    const client = await call('GET', '/api/v1/services/web/versions/1.0.0+client');
    const res = await fetch(`${server.url}${view.body.services[0].artifactUrl}`, {
      headers: { authorization: `Bearer ${agentCred}` },
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(client.body.digest);
    expect(client.body.digest).not.toBe(developerDigest);
    // The developer version of the same name is not desired, so the agent may not fetch it.
    const other = await fetch(`${server.url}/api/v1/services/web/versions/1.0.0/artifact`, {
      headers: { authorization: `Bearer ${agentCred}` },
    });
    expect(other.status).toBe(404);
    await other.body?.cancel();
  });

  it('deletes and restores a client version as itself; the developer version stays', async () => {
    expect((await call('DELETE', '/api/v1/services/web/versions/1.0.0+client')).status).toBe(409);
    expect((await call('DELETE', '/api/v1/services/web/versions/1.0.0_1+client')).status).toBe(204);
    expect(await list('?kind=all')).toEqual(['1.0.0+client', '1.0.0']);
    expect((await call('POST', '/api/v1/services/web/versions/1.0.0_1+client/restore')).status).toBe(200);
    const back = await call('GET', '/api/v1/services/web/versions/1.0.0_1+client');
    expect(back.body).toMatchObject({ kind: 'client', client: { developerVersion: '1.0.0', generation: 1 } });
  });
});
