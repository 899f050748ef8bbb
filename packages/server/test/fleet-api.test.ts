import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { seedCatalog } from '../src/desired/testing.test.helper.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface Row {
  instanceId: string;
  verdict: string;
  reason: string | null;
  desiredVersion: string | null;
  version: string | null;
}

describeEachStore(allStoreKinds)('fleet API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agent: string;
  let viewer: string;

  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await call(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const report = async (instanceId: string, ring: string, services: Array<Record<string, unknown>>) => {
    const res = await call('POST', '/api/v1/agent/state', {
      token: await agentCredentialFor(server.url, agent, instanceId),
      body: { instanceId, labels: { ring }, services },
    });
    expect(res.status).toBe(204);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    await seedCatalog(store.db, { web: ['1.0.0', '1.2.0'], api: ['1.0.0'] });
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    await ok('POST', '/api/v1/environments', { name: 'prod' }, 201);
    await ok('PATCH', '/api/v1/environments/prod/desired', { set: { web: '1.0.0', api: '1.0.0' } });
    agent = (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'agent-prod', environment: 'prod' }, 201)).token;

    const web = (s: Record<string, unknown>) => ({ service: 'web', ...s });
    const api = { service: 'api', version: '1.0.0', state: 'running' };
    await report('c-ok', 'canary', [web({ version: '1.2.0', state: 'running' }), api]);
    await report('c-updating', 'canary', [web({ version: '1.0.0', targetVersion: '1.2.0', state: 'updating' }), api]);
    await report('c-failed', 'canary', [
      web({ version: '1.0.0', state: 'running', updateError: 'not healthy: exit code 3', failureCount: 1 }),
      api,
    ]);
    await report('c-stopped', 'canary', [web({ version: '1.2.0', state: 'stopped' }), api]);
    await report('c-behind', 'canary', [web({ version: '1.0.0', state: 'running' }), api]);
    await report('c-silent', 'canary', [api]);
    await report('c-stale', 'canary', [web({ version: '1.2.0', state: 'running' }), api]);
    await report('m-waiting', 'main', [web({ version: '1.0.0', state: 'running' }), api]);
    // The agent of c-stale has been silent longer than the instance expiry.
    await store.db
      .updateTable('instances')
      .set({ last_seen_at: new Date(Date.now() - 3_600_000).toISOString() })
      .where('instance_id', '=', 'c-stale')
      .execute();
    // A staged rollout whose first wave (the canary ring) has started; the main ring waits for approval.
    await ok(
      'POST',
      '/api/v1/environments/prod/rollouts',
      { set: { web: '1.2.0' }, waves: [{ selector: { ring: 'canary' } }, { percent: 100 }], requireApproval: true },
      201,
    );
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('names every verdict with its reason', async () => {
    const view = await ok('GET', '/api/v1/fleet?environment=prod&service=web');
    expect(view.services).toHaveLength(1);
    const web = view.services[0];
    expect(web).toMatchObject({ environment: 'prod', service: 'web', desiredVersion: '1.2.0' });
    expect(web.counts).toEqual({
      ok: 1,
      'not-desired-yet': 1,
      stale: 1,
      'not-reported': 1,
      updating: 1,
      failed: 1,
      stopped: 1,
      behind: 1,
      'crash-looping': 0,
    });
    const byId = Object.fromEntries(web.instances.map((r: Row) => [r.instanceId, r]));
    expect(byId['c-ok']).toMatchObject({ verdict: 'ok', reason: null, desiredVersion: '1.2.0' });
    expect(byId['c-stale']).toMatchObject({ verdict: 'stale' });
    expect(byId['c-silent']).toMatchObject({ verdict: 'not-reported', reason: 'the agent has never reported web' });
    expect(byId['c-failed']).toMatchObject({
      verdict: 'failed',
      reason: 'update to 1.2.0 failed (runs 1.0.0): not healthy: exit code 3',
    });
    expect(byId['c-updating']).toMatchObject({ verdict: 'updating', reason: 'updating from 1.0.0 to 1.2.0' });
    expect(byId['c-stopped']).toMatchObject({ verdict: 'stopped', reason: 'web 1.2.0 is stopped' });
    expect(byId['c-behind']).toMatchObject({ verdict: 'behind' });
    expect(byId['m-waiting']).toMatchObject({ verdict: 'not-desired-yet', desiredVersion: '1.0.0', version: '1.0.0' });
    expect(byId['m-waiting'].reason).toContain('until its wave starts');
    // Alerts first, then by instance id.
    expect(web.instances.map((r: Row) => r.instanceId)).toEqual([
      'c-behind',
      'c-failed',
      'c-silent',
      'c-stale',
      'c-stopped',
      'c-updating',
      'm-waiting',
      'c-ok',
    ]);
  });

  it('filters alerts, limits rows and keeps full counts', async () => {
    const view = await ok('GET', '/api/v1/fleet?alerts=true&limit=3');
    const web = view.services.find((s: { service: string }) => s.service === 'web');
    expect(web.instances.map((r: Row) => r.instanceId)).toEqual(['c-behind', 'c-failed', 'c-silent']);
    expect(web.counts.ok).toBe(1);
    const api = view.services.find((s: { service: string }) => s.service === 'api');
    expect(api.counts).toMatchObject({ ok: 7, stale: 1 });
    expect(api.instances.map((r: Row) => r.instanceId)).toEqual(['c-stale']);
    // Waiting for a rollout wave is not an alert.
    const alerts = await ok('GET', '/api/v1/fleet?service=web&alerts=true');
    expect(alerts.services[0].instances.map((r: Row) => r.verdict)).not.toContain('not-desired-yet');
    expect(alerts.services[0].counts['not-desired-yet']).toBe(1);
  });

  it('gives one instance its rows, with the crash-loop evidence fields', async () => {
    const view = await ok('GET', '/api/v1/fleet?instance=m-waiting');
    expect(view.services.map((s: { service: string; instances: Row[] }) => [s.service, s.instances.length])).toEqual([
      ['api', 1],
      ['web', 1],
    ]);
    expect(view.services[1].instances[0]).toMatchObject({
      instanceId: 'm-waiting',
      verdict: 'not-desired-yet',
      recentFaults: 0,
      lastFault: null,
    });
    expect((await call('GET', '/api/v1/fleet?instance=nobody')).status).toBe(404);
  });

  it('checks credentials and the environment', async () => {
    expect((await call('GET', '/api/v1/fleet', { token: null })).status).toBe(401);
    expect((await call('GET', '/api/v1/fleet', { token: agent })).status).toBe(403);
    expect((await call('GET', '/api/v1/fleet', { token: viewer })).status).toBe(200);
    expect((await call('GET', '/api/v1/fleet?environment=nope', { token: viewer })).status).toBe(404);
    expect((await call('GET', '/api/v1/fleet?limit=0', { token: viewer })).status).toBe(400);
  });
});
