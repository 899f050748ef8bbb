import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { longPollWaiters } from '../src/desired/routes.ts';
import { seedCatalog } from '../src/desired/testing.test.helper.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

// With check-in threads, agents' long polls are parked in the threads and handed over as messages.
describeEachStore(allStoreKinds.flatMap((kind) => [0, 2].map((threads) => [kind, threads] as const)))(
  'desired API on %s with %i check-in threads',
  (kind, threads) => {
    let server: TestServer;
    let store: Database;
    const tokens: Record<string, string> = {};

    const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
    /** The instance credentials of test's host-1 and prod's prod-1. */
    const testHost = () => agentCredentialFor(server.url, tokens.agentTest as string, 'host-1');
    const prodHost = () => agentCredentialFor(server.url, tokens.agentProd as string, 'prod-1');

    beforeAll(async () => {
      server = await startTestServer(kind, { checkinThreads: String(threads) });
      store = openDatabase(server.database);
      await seedCatalog(store.db, { web: ['1.0', '1.1', '2.0'], api: ['1.0'] });
      const t = new TokenStore(store.db);
      tokens.viewer = (await t.create('viewer', 'viewer')).token;
      tokens.developer = (await t.create('dev', 'developer')).token;
      tokens.agentTest = (
        await t.create('agent-test', 'agent', undefined, { kind: 'agent', environment: 'test' })
      ).token;
      tokens.agentProd = (
        await t.create('agent-prod', 'agent', undefined, { kind: 'agent', environment: 'prod' })
      ).token;
      tokens.agentNoEnv = (await t.create('agent-none', 'agent', undefined, { kind: 'agent' })).token;
    });
    afterAll(async () => {
      await store?.close();
      await server?.stop();
    });

    it('checks credentials and roles', async () => {
      expect((await call('GET', '/api/v1/environments', { token: null })).status).toBe(401);
      expect((await call('GET', '/api/v1/environments', { token: 'flt_nope' })).status).toBe(401);
      expect((await call('GET', '/api/v1/environments', { token: tokens.viewer })).status).toBe(200);
      const denied = await call('POST', '/api/v1/environments', { token: tokens.viewer, body: { name: 'x' } });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('forbidden');
      expect((await call('GET', '/api/v1/environments', { token: tokens.agentTest })).status).toBe(403);
      const agentOnly = await call('GET', '/api/v1/agent/desired', { token: tokens.developer });
      expect(agentOnly.status).toBe(403);
      expect(agentOnly.body.error.message).toContain('agent');
      expect((await call('GET', '/api/v1/agent/desired', { token: null })).status).toBe(401);
      expect(
        (await call('POST', '/api/v1/environments', { token: tokens.developer, body: { name: 'Bad Name' } })).status,
      ).toBe(400);
    });

    it('runs the whole desired flow: edit, history, diff, rollback, tested gate', async () => {
      const dev = { token: tokens.developer };
      expect((await call('POST', '/api/v1/environments', { ...dev, body: { name: 'test' } })).status).toBe(201);
      const prod = await call('POST', '/api/v1/environments', {
        ...dev,
        body: { name: 'prod', requiresTestedIn: 'test' },
      });
      expect(prod.body).toMatchObject({ name: 'prod', requiresTestedIn: 'test', revision: 0 });
      expect((await call('POST', '/api/v1/environments', { ...dev, body: { name: 'test' } })).status).toBe(409);

      const r1 = await call('PATCH', '/api/v1/environments/test/desired', {
        ...dev,
        body: { set: { web: '1.0', api: '1.0' }, comment: 'go', expectedRevision: 0 },
      });
      expect(r1.status).toBe(200);
      expect(r1.body).toMatchObject({
        revision: 1,
        versions: { web: '1.0', api: '1.0' },
        author: 'dev',
        comment: 'go',
      });
      const stale = await call('PATCH', '/api/v1/environments/test/desired', {
        ...dev,
        body: { set: { web: '1.1' }, expectedRevision: 0 },
      });
      expect(stale.status).toBe(409);
      const unknown = await call('PATCH', '/api/v1/environments/test/desired', {
        ...dev,
        body: { set: { web: '9', db: '1' } },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toContain('web@9');
      expect(unknown.body.error.message).toContain('db@1');
      expect((await call('PATCH', '/api/v1/environments/test/desired', { ...dev, body: {} })).status).toBe(400);
      await call('PATCH', '/api/v1/environments/test/desired', {
        ...dev,
        body: { set: { web: '1.1' }, remove: ['api'] },
      });

      const current = await call('GET', '/api/v1/environments/test/desired', { token: tokens.viewer });
      expect(current.body).toMatchObject({ revision: 2, versions: { web: '1.1' } });
      expect((await call('GET', '/api/v1/environments/test/desired?revision=1')).body.versions).toEqual({
        web: '1.0',
        api: '1.0',
      });
      expect((await call('GET', '/api/v1/environments/test/desired?revision=7')).status).toBe(404);
      const history = await call('GET', '/api/v1/environments/test/desired/history?limit=2');
      expect(history.body.revisions.map((r: { revision: number }) => r.revision)).toEqual([2, 1]);
      const diff = await call('GET', '/api/v1/environments/test/desired/diff?from=1');
      expect(diff.body).toEqual({
        from: 1,
        to: 2,
        added: [],
        removed: [{ service: 'api', version: '1.0' }],
        changed: [{ service: 'web', from: '1.0', to: '1.1' }],
      });

      const back = await call('POST', '/api/v1/environments/test/desired/rollback', {
        ...dev,
        body: { revision: 1, comment: 'undo' },
      });
      expect(back.body).toMatchObject({ revision: 3, versions: { web: '1.0', api: '1.0' }, comment: 'undo' });

      const gated = await call('PATCH', '/api/v1/environments/prod/desired', { ...dev, body: { set: { web: '1.0' } } });
      expect(gated.status).toBe(409);
      expect(gated.body.error).toEqual({
        code: 'conflict',
        message: 'web@1.0 is not marked tested in test (prod only takes versions marked tested there)',
      });
      const marked = await call('POST', '/api/v1/environments/test/desired/mark-tested', dev);
      expect(marked.body).toMatchObject({
        revision: 3,
        marked: [
          { service: 'api', version: '1.0' },
          { service: 'web', version: '1.0' },
        ],
      });
      expect(
        (await call('PATCH', '/api/v1/environments/prod/desired', { ...dev, body: { set: { web: '1.0' } } })).status,
      ).toBe(200);
      expect(
        (await call('GET', '/api/v1/environments')).body.environments.map((e: { name: string }) => e.name),
      ).toEqual(['prod', 'test']);
    });

    it('serves agents their environment with an ETag, 304, and long polls', async () => {
      expect((await call('GET', '/api/v1/agent/desired', { token: tokens.agentTest })).status).toBe(403);
      const agent = { token: await testHost() };
      const first = await call('GET', '/api/v1/agent/desired', agent);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ environment: 'test', revision: 3 });
      expect(first.body.services.map((s: { service: string }) => s.service)).toEqual(['api', 'web']);
      expect(first.body.services[1]).toMatchObject({
        version: '1.0',
        signature: 'sig-web-1.0',
        artifactUrl: '/api/v1/services/web/versions/1.0/artifact',
      });
      const etag = first.headers.get('etag') as string;
      expect(etag).toBe('"test-r3"');
      const cached = await call('GET', '/api/v1/agent/desired', { ...agent, headers: { 'if-none-match': etag } });
      expect(cached.status).toBe(304);

      // Prod's agent sees prod, whatever it asks.
      const prodView = await call('GET', '/api/v1/agent/desired', { token: await prodHost() });
      expect(prodView.body).toMatchObject({ environment: 'prod', revision: 1 });
      expect((await call('GET', '/api/v1/agent/desired', { token: tokens.agentNoEnv })).status).toBe(403);

      // A wait that sees no change ends with 304 after the wait.
      let started = Date.now();
      const quiet = await call('GET', '/api/v1/agent/desired?wait=300ms', {
        ...agent,
        headers: { 'if-none-match': etag },
      });
      expect(quiet.status).toBe(304);
      // The server ends a wait up to a quarter early, so that agents' waits drift apart.
      expect(Date.now() - started).toBeGreaterThanOrEqual(220);

      // A wait returns soon after a change is committed.
      started = Date.now();
      const polling = call('GET', '/api/v1/agent/desired?wait=60s', { ...agent, headers: { 'if-none-match': etag } });
      for (let i = 0; i < 100 && longPollWaiters(server.app.server) === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(longPollWaiters(server.app.server)).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      const changedAt = Date.now();
      await call('PATCH', '/api/v1/environments/test/desired', {
        token: tokens.developer,
        body: { set: { web: '2.0' } },
      });
      const woken = await polling;
      const returnedAt = Date.now();
      expect(woken.status).toBe(200);
      expect(woken.body.revision).toBe(4);
      expect(woken.headers.get('etag')).toBe('"test-r4"');
      expect(returnedAt - changedAt).toBeLessThan(1000);
      expect(returnedAt - started).toBeLessThan(5000);
      expect(longPollWaiters(server.app.server)).toBe(0);

      expect((await call('GET', '/api/v1/agent/desired?wait=soon', agent)).status).toBe(400);
    });

    it('drops the waiter of a client that hangs up', async () => {
      const ac = new AbortController();
      const polling = call('GET', '/api/v1/agent/desired?wait=60s', {
        token: await testHost(),
        headers: { 'if-none-match': '"test-r4"' },
        signal: ac.signal,
      }).catch((err: Error) => err);
      for (let i = 0; i < 100 && longPollWaiters(server.app.server) === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(longPollWaiters(server.app.server)).toBe(1);
      ac.abort();
      expect(await polling).toBeInstanceOf(Error);
      for (let i = 0; i < 100 && longPollWaiters(server.app.server) > 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(longPollWaiters(server.app.server)).toBe(0);
    });

    it('stores agent state reports and lists instances', async () => {
      const report = await call('POST', '/api/v1/agent/state', {
        token: await testHost(),
        body: {
          instanceId: 'host-1',
          labels: { region: 'eu' },
          services: [{ service: 'web', version: '1.0', targetVersion: '2.0', state: 'updating', failureCount: 1 }],
        },
      });
      expect(report.status).toBe(204);
      const list = await call('GET', '/api/v1/instances?environment=test&label=region=eu', { token: tokens.viewer });
      expect(list.status).toBe(200);
      expect(list.body.instances).toHaveLength(1);
      expect(list.body.instances[0]).toMatchObject({
        instanceId: 'host-1',
        environment: 'test',
        stale: false,
        services: [{ service: 'web', version: '1.0', targetVersion: '2.0', state: 'updating', failureCount: 1 }],
      });
      expect((await call('GET', '/api/v1/instances?environment=prod')).body.instances).toEqual([]);
      expect((await call('GET', '/api/v1/instances/host-1')).body.labels).toEqual({ region: 'eu' });
      expect((await call('GET', '/api/v1/instances/nope')).status).toBe(404);
      // Another environment's agent cannot take the instance over: not by reporting, not by enrolling it.
      const hijack = await call('POST', '/api/v1/agent/state', {
        token: await prodHost(),
        body: { instanceId: 'host-1', services: [] },
      });
      expect(hijack.status).toBe(403);
      const enrol = { instanceId: 'host-1' };
      expect((await call('POST', '/api/v1/agent/enroll', { token: tokens.agentProd, body: enrol })).status).toBe(409);
      const tooMany = await call('POST', '/api/v1/agent/state', {
        token: await testHost(),
        body: { instanceId: 'host-1', services: Array.from({ length: 501 }, (_, i) => ({ service: `s${i}` })) },
      });
      expect(tooMany.status).toBe(400);
      const tooLong = await call('POST', '/api/v1/agent/state', {
        token: await testHost(),
        body: { instanceId: 'host-1', services: [{ service: 'web', updateError: 'x'.repeat(1025) }] },
      });
      expect(tooLong.status).toBe(400);
      expect(
        (await call('POST', '/api/v1/agent/state', { token: tokens.viewer, body: { instanceId: 'h', services: [] } }))
          .status,
      ).toBe(403);
    });

    it('releases held long polls when the server closes', async () => {
      const polling = call('GET', '/api/v1/agent/desired?wait=60s', {
        token: await testHost(),
        headers: { 'if-none-match': '"test-r4"' },
      });
      for (let i = 0; i < 100 && longPollWaiters(server.app.server) === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(longPollWaiters(server.app.server)).toBe(1);
      const started = Date.now();
      await store.close();
      const stopping = server.stop();
      const res = await polling;
      expect(res.status).toBe(304);
      await stopping;
      expect(Date.now() - started).toBeLessThan(3000);
      server = undefined as unknown as TestServer;
      store = undefined as unknown as Database;
    });
  },
);
