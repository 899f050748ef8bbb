import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { faultMeta, makeFaultArchive } from '../src/faults/archive.test.helper.ts';
import { evaluateRollouts } from '../src/rollouts/service.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describeEachStore(allStoreKinds)('agent identity on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let viewer: string;

  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await call(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const agentToken = async (env: string, extra: Record<string, unknown> = {}) =>
    (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: `agent-${env}`, environment: env, ...extra }, 201))
      .token as string;
  const enrol = (token: string, instanceId: string, publicKey?: string) =>
    call('POST', '/api/v1/agent/enroll', { token, body: { instanceId, ...(publicKey ? { publicKey } : {}) } });
  const report = (token: string, instanceId: string, services: Array<Record<string, unknown>>) =>
    call('POST', '/api/v1/agent/state', { token, body: { instanceId, services } });
  const logLine = (service: string) => ({
    service,
    time: new Date().toISOString(),
    level: 'info',
    unit: service,
    stream: 'stdout',
    message: 'hello',
  });

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    for (const name of ['web', 'db']) await ok('POST', '/api/v1/services', { name }, 201);
    for (const version of ['1.0.0', '2.0.0']) {
      const bytes = readFileSync(await makeArtifact({ run: { command: './bin/app' } }, { 'bin/app': '#!/bin/sh\n' }));
      const res = await call('PUT', `/api/v1/services/web/versions/${version}`, { raw: bytes });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    await ok('PUT', '/api/v1/profiles/front', { services: ['web'] });
    for (const env of ['canary', 'ident', 'scope', 'revoke', 'limit']) {
      await ok('POST', '/api/v1/environments', { name: env }, 201);
    }
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('20 invented succeeded canaries cannot outvote a real failure', async () => {
    await ok('PATCH', '/api/v1/environments/canary/desired', { set: { web: '1.0.0' } });
    const token = await agentToken('canary', { maxInstances: 1 });
    const real = await agentCredentialFor(server.url, token, 'real-1');
    expect((await report(real, 'real-1', [{ service: 'web', version: '1.0.0', state: 'running' }])).status).toBe(204);
    const invented = Array.from({ length: 20 }, (_, i) => `fake-${i}`);
    // Rows left from before enrolment existed (written straight to the store) must not count.
    const at = new Date().toISOString();
    for (const id of invented) {
      await store.db
        .insertInto('instances')
        .values({
          instance_id: id,
          environment: 'canary',
          profile: null,
          labels: '{}',
          first_seen_at: at,
          last_seen_at: at,
        })
        .execute();
    }
    const rollout = await ok(
      'POST',
      '/api/v1/environments/canary/rollouts',
      { set: { web: '2.0.0' }, waves: [{ percent: 100 }] },
      201,
    );

    // The attack as found: the agent token reports 20 made-up instances, all succeeded. Each is refused now.
    const succeeded = [{ service: 'web', version: '2.0.0', state: 'running' }];
    for (const id of invented) {
      const bare = await report(token, id, succeeded);
      expect(bare.status).toBe(403);
      expect(bare.body.error.message).toContain('enrol first');
      expect((await report(real, id, succeeded)).status).toBe(403);
    }
    // Nor can the token enrol them: it may enrol one instance, and has.
    const more = await enrol(token, 'fake-0');
    expect(more.status).toBe(403);
    expect(more.body.error.message).toContain('at most 1');
    // The leftover rows say "succeeded" too, as if reported before the upgrade.
    for (const id of invented) {
      await store.db
        .insertInto('instance_services')
        .values({
          instance_id: id,
          service: 'web',
          version: '2.0.0',
          target_version: null,
          update_error: null,
          installed_at: null,
          started_at: null,
          failure_count: 0,
          last_exit_code: null,
          state: 'running',
          updated_at: at,
        })
        .execute();
    }

    const failed = { service: 'web', version: '1.0.0', targetVersion: '2.0.0', state: 'failed', updateError: 'exit 3' };
    expect((await report(real, 'real-1', [failed])).status).toBe(204);
    await evaluateRollouts(store.db, new Date());
    const after = await ok('GET', `/api/v1/rollouts/${rollout.id}`);
    expect(after.state).toBe('paused');
    expect(after.waves[0]).toMatchObject({ instances: 1, failed: 1, succeeded: 0 });
  });

  it('an agent token cannot report for another instance', async () => {
    const token = await agentToken('ident');
    // A bare agent token may only enrol.
    for (const [method, path] of [
      ['GET', '/api/v1/agent/desired'],
      ['GET', '/api/v1/services/web/versions/1.0.0/artifact'],
    ] as const) {
      const res = await call(method, path, { token });
      expect(res.status, path).toBe(403);
      expect(res.body.error.message).toContain('enrol first');
    }
    const { publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const first = await enrol(token, 'host-a', pem);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ instanceId: 'host-a', environment: 'ident', profile: null });
    expect(first.body.credential).toMatch(/^fli_[A-Za-z0-9_-]{43}$/);
    const a = first.body.credential as string;
    const b = await agentCredentialFor(server.url, token, 'host-b');

    // Enrolling an enrolled id again is refused, whoever asks: a token cannot take over a running instance.
    const again = await enrol(token, 'host-a', pem);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('flotilla instance revoke host-a');
    const otherEnv = await enrol(await agentToken('scope'), 'host-a');
    expect(otherEnv.status).toBe(409);
    expect((await enrol(a, 'host-c')).status).toBe(403);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    expect((await enrol(token, 'host-rsa', rsa.toString())).status).toBe(400);
    expect((await enrol(token, 'host-bad', 'not a key')).status).toBe(400);

    expect((await report(a, 'host-a', [{ service: 'web', version: '1.0.0' }])).status).toBe(204);
    const hijack = await report(a, 'host-b', [{ service: 'web', version: '6.6.6' }]);
    expect(hijack.status).toBe(403);
    expect(hijack.body.error.message).toContain('"host-a" only');
    expect((await report(b, 'host-b', [{ service: 'web', version: '1.0.0' }])).status).toBe(204);
    expect((await call('GET', '/api/v1/agent/desired?instance=host-b', { token: a })).status).toBe(403);
    const own = await call('GET', '/api/v1/agent/desired?instance=host-a', { token: a });
    expect(own.status).toBe(200);
    expect((await call('GET', '/api/v1/agent/desired', { token: a })).status).toBe(200);

    const listed = await call('GET', '/api/v1/identities?environment=ident', { token: viewer });
    expect(listed.status).toBe(200);
    expect(listed.body.identities.map((i: { instanceId: string }) => i.instanceId)).toEqual(['host-a', 'host-b']);
    expect(listed.body.identities[0]).toMatchObject({ tokenName: 'agent-ident', publicKey: pem, revokedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(a);
    const one = await call('GET', '/api/v1/instances/host-a/identity', { token: viewer });
    expect(one.body.instanceId).toBe('host-a');
    // Only the instance's own report is stored.
    expect((await ok('GET', '/api/v1/instances/host-b')).services[0].version).toBe('1.0.0');
  });

  it("logs and faults only for the credential's instance and profile services", async () => {
    const token = await agentToken('scope', { profile: 'front' });
    const a = await agentCredentialFor(server.url, token, 'scope-a');
    const logs = (instanceId: string, service: string) =>
      call('POST', '/api/v1/agent/logs', { token: a, body: { instanceId, lines: [logLine(service)] } });
    expect((await logs('scope-a', 'web')).status).toBe(200);
    const otherInstance = await logs('scope-b', 'web');
    expect(otherInstance.status).toBe(403);
    expect(otherInstance.body.error.message).toContain('"scope-a" only');
    const otherService = await logs('scope-a', 'db');
    expect(otherService.status).toBe(403);
    expect(otherService.body.error.message).toContain('outside the profile "front"');
    const bare = await call('POST', '/api/v1/agent/logs', {
      token,
      body: { instanceId: 'scope-a', lines: [logLine('web')] },
    });
    expect(bare.status).toBe(403);
    const stored = await ok('GET', '/api/v1/logs?environment=scope');
    expect(stored.lines.map((l: { instanceId: string; service: string }) => `${l.instanceId}/${l.service}`)).toEqual([
      'scope-a/web',
    ]);

    const fault = async (meta: Record<string, unknown>, bearer = a) =>
      call('POST', '/api/v1/agent/faults', {
        token: bearer,
        raw: readFileSync(await makeFaultArchive({ meta: faultMeta(meta) })),
      });
    expect((await fault({ instanceId: 'scope-a', service: 'web' })).status).toBe(201);
    expect((await fault({ instanceId: 'scope-b', service: 'web' })).status).toBe(403);
    const dbFault = await fault({ instanceId: 'scope-a', service: 'db' });
    expect(dbFault.status).toBe(403);
    expect(dbFault.body.error.message).toContain('outside the profile');
    expect((await fault({ instanceId: 'scope-a', service: 'web' }, token)).status).toBe(403);
    const faults = await ok('GET', '/api/v1/faults?environment=scope');
    expect(faults.faults.map((f: { instanceId: string; service: string }) => `${f.instanceId}/${f.service}`)).toEqual([
      'scope-a/web',
    ]);

    // A state report keeps only the profile's services (and the agent's own), so nothing else can count.
    const state = await report(a, 'scope-a', [
      { service: 'web', version: '1.0.0' },
      { service: 'db', version: '9.9.9' },
      { service: 'flotilla-agent', version: '0.1.0' },
    ]);
    expect(state.status).toBe(204);
    const seen = await ok('GET', '/api/v1/instances/scope-a');
    expect(seen.services.map((s: { service: string }) => s.service)).toEqual(['flotilla-agent', 'web']);
  });

  it('a revoked instance is refused at once', async () => {
    const token = await agentToken('revoke');
    const a = await agentCredentialFor(server.url, token, 'gone-a');
    const b = await agentCredentialFor(server.url, token, 'gone-b');
    expect((await report(a, 'gone-a', [])).status).toBe(204);
    expect((await call('DELETE', '/api/v1/instances/gone-a/identity', { token: viewer })).status).toBe(403);
    const revoked = await ok('DELETE', '/api/v1/instances/gone-a/identity');
    expect(revoked.revokedAt).toEqual(expect.any(String));
    const refused = await report(a, 'gone-a', []);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain('revoked');
    expect((await call('GET', '/api/v1/agent/desired', { token: a })).status).toBe(401);
    expect((await ok('GET', '/api/v1/identities?environment=revoke&revoked=true')).identities).toHaveLength(1);
    const audit = await ok('GET', '/api/v1/audit?action=instance.revoke');
    expect(audit.entries[0].target).toBe('instance:gone-a');

    // An admin's revocation frees the id: the host enrols again with a new credential.
    const again = await enrol(token, 'gone-a');
    expect(again.status).toBe(201);
    expect(again.body.credential).not.toBe(a);
    expect((await report(again.body.credential, 'gone-a', [])).status).toBe(204);
    expect((await report(a, 'gone-a', [])).status).toBe(401);

    // Revoking the agent token stops every instance it enrolled, and new enrolments with it.
    expect((await report(b, 'gone-b', [])).status).toBe(204);
    const tokens = await ok('GET', '/api/v1/tokens');
    const id = tokens.tokens.find((t: { name: string }) => t.name === 'agent-revoke').id;
    await ok('DELETE', `/api/v1/tokens/${id}`);
    expect((await report(b, 'gone-b', [])).status).toBe(401);
    expect((await report(again.body.credential, 'gone-a', [])).status).toBe(401);
    expect((await enrol(token, 'gone-c')).status).toBe(401);
    expect((await call('DELETE', '/api/v1/instances/nobody/identity')).status).toBe(404);
  });

  it('a token enrols at most maxInstances', async () => {
    const limited = await ok(
      'POST',
      '/api/v1/tokens',
      { kind: 'agent', name: 'limited', environment: 'limit', maxInstances: 2 },
      201,
    );
    expect(limited.info.maxInstances).toBe(2);
    expect((await enrol(limited.token, 'lim-1')).status).toBe(201);
    expect((await enrol(limited.token, 'lim-2')).status).toBe(201);
    const third = await enrol(limited.token, 'lim-3');
    expect(third.status).toBe(403);
    expect(third.body.error.message).toBe(
      'the agent token "limited" may enrol at most 2 instance(s) and has 2; revoke one (flotilla instance revoke <id>) or use another token',
    );
    // Parallel enrolments cannot slip past the count either.
    await ok('DELETE', '/api/v1/instances/lim-1/identity');
    const raced = await Promise.all(['lim-4', 'lim-5', 'lim-6'].map((id) => enrol(limited.token, id)));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 403, 403]);
    expect((await ok('GET', '/api/v1/identities?environment=limit&revoked=false')).identities).toHaveLength(2);
    const personal = await call('POST', '/api/v1/tokens', { body: { kind: 'personal', name: 'x', maxInstances: 3 } });
    expect(personal.status).toBe(400);
  });
});
