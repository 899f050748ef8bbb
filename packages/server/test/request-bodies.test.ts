import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBody } from './support/send-body.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

/** About 7.7 MiB of JSON that fails the log batch schema. */
const badBatch = Buffer.from(JSON.stringify({ lines: 'x'.repeat(7.7 * 1024 * 1024) }));

/** Open connections of the main thread's HTTP server (behind check-in threads, those from the proxy). */
const connections = (target: TestServer) =>
  new Promise<number>((resolve) => target.app.server.getConnections((_err, n) => resolve(n)));

describe('request bodies', () => {
  let server: TestServer;
  let threaded: TestServer;
  beforeAll(async () => {
    [server, threaded] = await Promise.all([
      startTestServer('sqlite', { checkinThreads: '0' }),
      startTestServer('sqlite', { checkinThreads: '1' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), threaded?.stop()]);
  });

  it('a 7.7 MiB bad body without a token gets 401, not 400', async () => {
    for (const target of [server, threaded]) {
      const answer = await sendBody(target.url, 'POST', '/api/v1/agent/logs', badBatch);
      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe('unauthorized');
      const wrongToken = await sendBody(target.url, 'POST', '/api/v1/agent/logs', badBatch, {
        headers: { authorization: 'Bearer flt_not_a_token' },
      });
      expect(wrongToken.status).toBe(401);
    }
  });

  it('checks the credential before reading any of the body', async () => {
    // Only the first 64 KiB of a declared 7.7 MiB arrive: a server that read the body first would wait.
    const cases: [string, string, Record<string, string>, number][] = [
      ['POST', '/api/v1/agent/logs', {}, 401],
      ['POST', '/api/v1/services', {}, 401],
      ['POST', '/api/v1/services', { authorization: `Bearer ${adminToken}x` }, 401],
      ['PATCH', '/api/v1/environments/prod/desired', {}, 401],
      ['PUT', '/api/v1/services/web/versions/1.0.0', { 'content-type': 'application/gzip' }, 401],
    ];
    for (const [method, path, headers, status] of cases) {
      const answer = await sendBody(server.url, method, path, badBatch, {
        headers,
        chunk: 64 * 1024,
        stopAfter: 64 * 1024,
      });
      expect({ method, path, status: answer.status }).toEqual({ method, path, status });
      expect(answer.sentBeforeAnswer).toBeLessThanOrEqual(64 * 1024);
    }
  });

  it('an oversized body always gets 413, never 503', async () => {
    const json = Buffer.from(JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }));
    const auth = { authorization: `Bearer ${adminToken}` };
    const variants: [string, Buffer, Record<string, string>, { chunk?: number; delayMs?: number }][] = [
      ['JSON fast', json, {}, {}],
      ['JSON slow', json, {}, { chunk: 16 * 1024, delayMs: 2 }],
    ];
    // The early answer races the body still arriving; repeat to catch the race. Streamed gzip
    // uploads refused mid-body: src/http/request-body.test.ts.
    for (const target of [server, threaded]) {
      for (let round = 0; round < 15; round++) {
        for (const [name, body, headers, pace] of variants) {
          const answer = await sendBody(target.url, 'POST', '/api/v1/services', body, {
            headers: { ...auth, ...headers },
            ...pace,
          });
          expect({ name, round, status: answer.status, code: answer.body.error?.code }).toEqual({
            name,
            round,
            status: 413,
            code: 'payload_too_large',
          });
        }
      }
      // Each client closed after its answer, and no refused body holds a connection open.
      await expect.poll(() => connections(target)).toBe(0);
    }
  });

  it('an oversized check-in always gets 413, never a reset', async () => {
    const body = Buffer.from(JSON.stringify({ appVersion: 'v1', extraTagInfo: { x: 'y'.repeat(256 * 1024) } }));
    for (const target of [server, threaded]) {
      for (let round = 0; round < 15; round++) {
        for (const pace of [{}, { chunk: 8 * 1024, delayMs: 1 }]) {
          const answer = await sendBody(target.url, 'POST', '/v1/checkupgrade', body, pace);
          expect({ round, pace, status: answer.status, code: answer.body.error?.code }).toEqual({
            round,
            pace,
            status: 413,
            code: 'payload_too_large',
          });
        }
      }
    }
  });
});
