import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { evaluateRollouts } from '../src/rollouts/service.ts';
import { assignWave, type WaveSpec } from '../src/rollouts/waves.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

const manifest = { run: { command: './bin/app' } };
const agentCount = 20;

describeEachStore(allStoreKinds)('rollouts API with simulated agents on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let viewer: string;

  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await call(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };

  /** A fleet of agents sharing one agent token, each enrolled with its own instance id. */
  const fleet = async (env: string, labels: (i: number) => Record<string, string> = () => ({})) => {
    await ok('POST', '/api/v1/environments', { name: env }, 201);
    await ok('PATCH', `/api/v1/environments/${env}/desired`, { set: { web: '1.0.0' } });
    const minted = await ok('POST', '/api/v1/tokens', { kind: 'agent', name: `agent-${env}`, environment: env }, 201);
    const token = minted.token as string;
    const ids = Array.from({ length: agentCount }, (_, i) => `${env}-host-${i}`);
    const report = async (id: string, service: Record<string, unknown>) => {
      const res = await call('POST', '/api/v1/agent/state', {
        token: await agentCredentialFor(server.url, token, id),
        body: { instanceId: id, labels: labels(ids.indexOf(id)), services: [{ service: 'web', ...service }] },
      });
      expect(res.status).toBe(204);
    };
    const desired = async (id: string, headers: Record<string, string> = {}, query = '') =>
      call('GET', `/api/v1/agent/desired?instance=${id}${query}`, {
        token: await agentCredentialFor(server.url, token, id),
        headers,
      });
    const webOf = async (id: string) => {
      const res = await desired(id);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe(`"${env}-r${res.body.revision}"`);
      return res.body.services.find((s: { service: string }) => s.service === 'web')?.version as string;
    };
    for (const id of ids) await report(id, { version: '1.0.0', state: 'running' });
    return { token, ids, report, desired, webOf };
  };
  const firstWave = (rollout: { seed: string; waves: Array<{ wave: WaveSpec }> }, ids: string[]) =>
    ids.filter(
      (id) =>
        assignWave(
          rollout.waves.map((w) => w.wave),
          rollout.seed,
          { instanceId: id, labels: {} },
        ) === 0,
    );
  const waitForState = async (id: string, state: string) => {
    for (let i = 0; i < 100; i++) {
      const r = await ok('GET', `/api/v1/rollouts/${id}`);
      if (r.state === state) return r;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`rollout ${id} never reached ${state}`);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    await ok('POST', '/api/v1/services', { name: 'web' }, 201);
    for (const version of ['1.0.0', '2.0.0']) {
      const bytes = readFileSync(await makeArtifact(manifest, { 'bin/app': `#!/bin/sh\necho ${version}\n` }));
      const res = await fetch(`${server.url}/api/v1/services/web/versions/${version}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
        body: bytes,
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('rolls out wave by wave as agents report success, waking long polls, then completes', async () => {
    const { token, ids, report, desired, webOf } = await fleet('blue');
    const denied = await call('POST', '/api/v1/environments/blue/rollouts', {
      token: viewer,
      body: { set: { web: '2.0.0' }, waves: [{ percent: 25 }] },
    });
    expect(denied.status).toBe(403);
    const bad = await call('POST', '/api/v1/environments/blue/rollouts', {
      body: { set: { web: '2.0.0' }, waves: [{ percent: 50 }, { percent: 25 }] },
    });
    expect(bad.status).toBe(400);

    // A seed whose first wave holds some but not most of the fleet, so the test does not depend on chance.
    const waves = [{ percent: 25 }, { percent: 100 }];
    let seed = 0;
    while (
      ![1, 2, 3, 4, 5, 6, 7, 8].includes(
        firstWave({ seed: `s${seed}`, waves: waves.map((wave) => ({ wave })) }, ids).length,
      )
    )
      seed++;
    const rollout = await ok(
      'POST',
      '/api/v1/environments/blue/rollouts',
      { set: { web: '2.0.0' }, waves, comment: 'web 2', seed: `s${seed}` },
      201,
    );
    expect(rollout.seed).toBe(`s${seed}`);
    expect(rollout).toMatchObject({ state: 'running', currentWave: 0, baseRevision: 1, targetRevision: 2 });
    const first = firstWave(rollout, ids);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(12);
    for (const id of ids) expect(await webOf(id)).toBe(first.includes(id) ? '2.0.0' : '1.0.0');
    // The credential names the instance: without ?instance= it gets its own wave, and it cannot ask as another.
    const later0 = ids.find((id) => !first.includes(id)) as string;
    const own = await call('GET', '/api/v1/agent/desired', {
      token: await agentCredentialFor(server.url, token, later0),
    });
    expect(own.body.revision).toBe(1);
    expect(own.headers.get('etag')).toBe('"blue-r1"');
    const posing = await call('GET', `/api/v1/agent/desired?instance=${first[0]}`, {
      token: await agentCredentialFor(server.url, token, later0),
    });
    expect(posing.status).toBe(403);
    expect((await call('GET', '/api/v1/agent/desired', { token })).status).toBe(403);

    const conflict = await call('PATCH', '/api/v1/environments/blue/desired', { body: { set: { web: '1.0.0' } } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toContain(rollout.id);
    expect(conflict.body.error).toMatchObject({
      code: 'rollout_active',
      rollout: { id: rollout.id, environment: 'blue', changes: [{ service: 'web', from: '1.0.0', to: '2.0.0' }] },
    });
    expect(rollout.changes).toEqual([{ service: 'web', from: '1.0.0', to: '2.0.0' }]);
    const onlyActive = await ok('GET', '/api/v1/environments/blue/rollouts?active=true');
    expect(onlyActive.rollouts.map((r: { id: string }) => r.id)).toEqual([rollout.id]);
    expect(
      (
        await call('POST', '/api/v1/environments/blue/rollouts', {
          body: { set: { web: '1.0.0' }, waves: [{ percent: 10 }] },
        })
      ).status,
    ).toBe(409);

    // A later-wave agent long-polls with its current tag; the server's evaluator advances the wave and wakes it.
    const later = ids.find((id) => !first.includes(id)) as string;
    const held = desired(later, { 'if-none-match': '"blue-r1"' }, '&wait=20s');
    for (const id of first) await report(id, { version: '2.0.0', state: 'running' });
    const woken = await held;
    expect(woken.status).toBe(200);
    expect(woken.headers.get('etag')).toBe('"blue-r2"');
    expect((await ok('GET', `/api/v1/rollouts/${rollout.id}`)).currentWave).toBe(1);
    for (const id of ids) expect(await webOf(id)).toBe('2.0.0');

    for (const id of ids) await report(id, { version: '2.0.0', state: 'running' });
    await evaluateRollouts(store.db, new Date());
    const done = await waitForState(rollout.id, 'completed');
    expect(done.waves.map((w: { succeeded: number }) => w.succeeded).reduce((a: number, b: number) => a + b)).toBe(
      agentCount,
    );
    expect(done.history.map((h: { to: string }) => h.to)).toEqual(['running', 'running', 'completed']);
    const listed = await call('GET', '/api/v1/environments/blue/rollouts', { token: viewer });
    expect(listed.body.rollouts.map((r: { id: string }) => r.id)).toEqual([rollout.id]);
    expect((await ok('GET', '/api/v1/environments/blue/desired')).revision).toBe(2);
  });

  it('pauses when failures pass the error threshold; abort returns everyone to the base as a new revision', async () => {
    const { ids, report, webOf } = await fleet('green');
    const rollout = await ok(
      'POST',
      '/api/v1/environments/green/rollouts',
      { set: { web: '2.0.0' }, waves: [{ percent: 100 }], errorThreshold: 0.1 },
      201,
    );
    for (const id of ids) expect(await webOf(id)).toBe('2.0.0');
    for (const id of ids.slice(0, 3)) {
      await report(id, { version: '1.0.0', targetVersion: '2.0.0', state: 'failed', updateError: 'exit code 3' });
    }
    await evaluateRollouts(store.db, new Date());
    const paused = await waitForState(rollout.id, 'paused');
    expect(paused.waves[0]).toMatchObject({ instances: agentCount, failed: 3 });
    expect((await call('POST', `/api/v1/rollouts/${rollout.id}/approve`)).status).toBe(409);
    expect((await call('POST', `/api/v1/rollouts/${rollout.id}/abort`, { token: viewer })).status).toBe(403);
    const aborted = await ok('POST', `/api/v1/rollouts/${rollout.id}/abort`);
    expect(aborted.state).toBe('aborted');
    const current = await ok('GET', '/api/v1/environments/green/desired');
    expect(current).toMatchObject({
      revision: 3,
      versions: { web: '1.0.0' },
      comment: `rollout ${rollout.id} aborted`,
    });
    for (const id of ids) expect(await webOf(id)).toBe('1.0.0');
    expect((await call('GET', '/api/v1/rollouts/nope')).status).toBe(404);
  });

  it('waits for approval before the next wave', async () => {
    const { ids, report, webOf } = await fleet('red', (i) => ({ ring: i < 4 ? 'canary' : 'main' }));
    const rollout = await ok(
      'POST',
      '/api/v1/environments/red/rollouts',
      { set: { web: '2.0.0' }, waves: [{ selector: { ring: 'canary' } }], requireApproval: true },
      201,
    );
    const canaries = ids.slice(0, 4);
    for (const id of ids) expect(await webOf(id)).toBe(canaries.includes(id) ? '2.0.0' : '1.0.0');
    for (const id of canaries) await report(id, { version: '2.0.0', state: 'running' });
    await evaluateRollouts(store.db, new Date());
    const waiting = await waitForState(rollout.id, 'waiting_approval');
    expect(waiting.waves[0]).toMatchObject({ instances: 4, succeeded: 4 });
    for (const id of ids.slice(4)) expect(await webOf(id)).toBe('1.0.0');
    const approved = await ok('POST', `/api/v1/rollouts/${rollout.id}/approve`);
    expect(approved).toMatchObject({ state: 'running', currentWave: 1 });
    for (const id of ids) expect(await webOf(id)).toBe('2.0.0');
  });
  it('refuses a rollback during a rollout, naming it, and with abortRollout aborts it and rolls back at once', async () => {
    const { ids, webOf } = await fleet('amber');
    const rollout = await ok(
      'POST',
      '/api/v1/environments/amber/rollouts',
      { set: { web: '2.0.0' }, waves: [{ percent: 100 }] },
      201,
    );
    const refused = await call('POST', '/api/v1/environments/amber/desired/rollback', { body: { revision: 0 } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'rollout_active', rollout: { id: rollout.id, state: 'running' } });
    expect(refused.body.error.message).toContain('web 1.0.0 → 2.0.0');
    const back = await ok('POST', '/api/v1/environments/amber/desired/rollback', {
      revision: 1,
      comment: 'web 2.0.0 breaks sign-in',
      abortRollout: true,
    });
    expect(back).toMatchObject({ revision: 3, versions: { web: '1.0.0' }, comment: 'web 2.0.0 breaks sign-in' });
    expect((await ok('GET', `/api/v1/rollouts/${rollout.id}`)).state).toBe('aborted');
    expect((await ok('GET', '/api/v1/environments/amber/rollouts?active=true')).rollouts).toEqual([]);
    for (const id of ids) expect(await webOf(id)).toBe('1.0.0');
  });
});
