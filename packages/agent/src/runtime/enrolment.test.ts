// A real server and an agent in this process: the agent enrols once, keeps its credential and key
// private, speaks only as its instance, and stops (never re-enrols) once it is revoked.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { startAgent } from './agent.ts';
import { AgentApi, ApiError } from './api.ts';
import { resolveAgentConfig } from './config.ts';
import { credentialFile, EnrolmentError, instanceKeyFile } from './enrolment.ts';

describe('agent enrolment', () => {
  let server: TestServer;
  let token: string;

  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await callApi(server.url, method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const mode = (file: string) => statSync(file).mode & 0o777;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    token = (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'hosts', environment: 'production' }, 201))
      .token;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('enrols once with the agent token and then speaks only with the instance credential', async () => {
    const dir = makeTempDir('flotilla-agent-enrol-');
    const api = new AgentApi(server.url, token, { dir, instanceId: 'enrol-1' });
    expect(api.token).toBe(token);
    // Two calls at once enrol once.
    await Promise.all([
      api.reportState({ instanceId: 'enrol-1', services: [] }),
      api.uploadLogs({ instanceId: 'enrol-1', lines: [] }),
    ]);
    const credential = readFileSync(join(dir, credentialFile), 'utf8').trim();
    expect(credential).toMatch(/^fli_/);
    expect(api.token).toBe(credential);
    expect(mode(join(dir, credentialFile))).toBe(0o600);
    expect(mode(join(dir, instanceKeyFile))).toBe(0o600);
    const identity = await ok('GET', '/api/v1/instances/enrol-1/identity');
    const key = createPublicKey(createPrivateKey(readFileSync(join(dir, instanceKeyFile), 'utf8')));
    expect(identity.publicKey).toBe(key.export({ type: 'spki', format: 'pem' }).toString());

    // A new process with the same directory reuses the credential: enrolling again would be refused.
    const again = new AgentApi(server.url, token, { dir, instanceId: 'enrol-1' });
    expect(again.token).toBe(credential);
    await again.reportState({ instanceId: 'enrol-1', services: [] });
    const other = new AgentApi(server.url, token, { dir: makeTempDir('flotilla-agent-enrol-'), instanceId: 'enrol-1' });
    const refused = await other.reportState({ instanceId: 'enrol-1', services: [] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(EnrolmentError);
    expect((refused as EnrolmentError).status).toBe(409);

    await ok('DELETE', '/api/v1/instances/enrol-1/identity');
    const revoked = await again.reportState({ instanceId: 'enrol-1', services: [] }).catch((err: unknown) => err);
    expect(revoked).toBeInstanceOf(ApiError);
    expect((revoked as ApiError).status).toBe(401);
  });

  it('stops with a clear message when its credential is revoked, and does not enrol again', async () => {
    const dir = makeTempDir('flotilla-agent-enrol-');
    const config = resolveAgentConfig({ server: server.url, token, dir, instanceId: 'enrol-2', wait: '1' }, {});
    const agent = await startAgent(config);
    await agent.firstSync;
    const credential = readFileSync(join(dir, credentialFile), 'utf8').trim();
    await ok('DELETE', '/api/v1/instances/enrol-2/identity');
    const stopped = await agent.done.then(
      () => null,
      (err: Error) => err,
    );
    await agent.stop();
    expect(stopped?.message).toContain('the server refused the credential of instance "enrol-2"');
    expect(stopped?.message).toContain('revoked');
    expect(stopped?.message).toContain(join(dir, credentialFile));
    expect(readFileSync(join(dir, credentialFile), 'utf8').trim()).toBe(credential);
    const identity = await ok('GET', '/api/v1/instances/enrol-2/identity');
    expect(identity.revokedAt).toEqual(expect.any(String));
  }, 30_000);

  it('stops when the enrolment is refused', async () => {
    const limited = await ok(
      'POST',
      '/api/v1/tokens',
      { kind: 'agent', name: 'one', environment: 'production', maxInstances: 1 },
      201,
    );
    const enrol = (instanceId: string) =>
      new AgentApi(server.url, limited.token, { dir: makeTempDir('flotilla-agent-enrol-'), instanceId }).credential();
    await enrol('limit-1');
    const config = resolveAgentConfig(
      { server: server.url, token: limited.token, dir: makeTempDir('flotilla-agent-enrol-'), instanceId: 'limit-2' },
      {},
    );
    const agent = await startAgent(config);
    const stopped = await agent.done.then(
      () => null,
      (err: Error) => err,
    );
    await agent.stop();
    expect(stopped).toBeInstanceOf(EnrolmentError);
    expect(stopped?.message).toContain('may enrol at most 1 instance(s)');
  }, 30_000);
});
