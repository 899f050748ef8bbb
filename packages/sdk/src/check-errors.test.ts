import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkForUpgrade } from './check.ts';
import { UpgradeCheckError } from './errors.ts';
import {
  type FakeResponder,
  neverAnswer,
  type Reply,
  sendJson,
  startFakeResponder,
} from './fake-responder.test.helper.ts';

let server: FakeResponder | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(reply: Reply): Promise<FakeResponder> {
  server = await startFakeResponder(reply);
  return server;
}

async function rejection(promise: Promise<unknown>): Promise<UpgradeCheckError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(UpgradeCheckError);
  return error as UpgradeCheckError;
}

describe('checkForUpgrade errors', () => {
  it('treats a 500 as an error and quotes the body', async () => {
    const responder = await serve((_request, response) => {
      response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end('database is\n  locked');
    });
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.kind).toBe('http-status');
    expect(error.status).toBe(500);
    expect(error.retryAfterMs).toBeUndefined();
    expect(error.message).toBe(
      `Upgrade check to ${responder.baseUrl}/v1/checkupgrade answered HTTP 500 Internal Server Error, expected 200: database is locked`,
    );
  });

  it('treats 204 No Content as an error, though it is a success status', async () => {
    const responder = await serve((_request, response) => {
      response.writeHead(204);
      response.end();
    });
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.kind).toBe('http-status');
    expect(error.status).toBe(204);
  });

  it('reports Retry-After in seconds from a 429', async () => {
    const responder = await serve((_request, response) =>
      sendJson(response, 429, { error: 'slow down' }, { 'Retry-After': '120' }),
    );
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.message).toContain('{"error":"slow down"}');
  });

  it('reports Retry-After given as an HTTP date from a 503', async () => {
    const responder = await serve((_request, response) =>
      sendJson(response, 503, '', { 'Retry-After': new Date(Date.now() + 90_000).toUTCString() }),
    );
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.status).toBe(503);
    // HTTP dates have whole seconds, so up to a second is lost.
    expect(error.retryAfterMs).toBeGreaterThan(88_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(90_000);
  });

  it('passes Retry-After on a successful answer through to the result', async () => {
    const responder = await serve((_request, response) =>
      sendJson(response, 200, { versions: [], requestIntervalInMinutes: 1 }, { 'Retry-After': '600' }),
    );
    const result = await checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' });
    expect(result.retryAfterMs).toBe(600_000);
  });

  it('rejects a body that is not JSON', async () => {
    const responder = await serve((_request, response) => sendJson(response, 200, '<html>gateway</html>'));
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.kind).toBe('invalid-json');
    expect(error.message).toContain('<html>gateway</html>');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    [[1, 2], 'the body is not an object'],
    [{ versions: {} }, '"versions" is not an array'],
    [{ versions: [{ name: 7 }] }, 'versions[0].name is not a string'],
    [{ versions: [{ name: 'v1.0.0', tags: 'latest' }] }, 'versions[0].tags is not an array of strings'],
    [{ versions: [{ Name: 'v1.0.0', ExtraInfo: { a: 1 } }] }, 'versions[0].extraInfo.a is not a string'],
    [{ versions: [], requestIntervalInMinutes: '60' }, '"requestIntervalInMinutes" is not a number'],
  ])('rejects the shape %j', async (body, detail) => {
    const responder = await serve((_request, response) => sendJson(response, 200, body));
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.kind).toBe('invalid-response');
    expect(error.message).toContain(detail);
  });

  it('times out against a server that never answers, and closes the connection', async () => {
    const responder = await serve(neverAnswer);
    const started = performance.now();
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0', timeoutMs: 150 }));
    const elapsed = performance.now() - started;
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('timed out after 150 ms');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2_000);
    await vi.waitFor(() => expect(responder.abandoned).toHaveLength(1));
  });

  it('stops when the caller aborts, and says it was aborted rather than timed out', async () => {
    const responder = await serve(neverAnswer);
    const controller = new AbortController();
    const pending = checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0', signal: controller.signal });
    await vi.waitFor(() => expect(responder.requests).toHaveLength(1));
    controller.abort();
    const error = await rejection(pending);
    expect(error.kind).toBe('aborted');
    await vi.waitFor(() => expect(responder.abandoned).toHaveLength(1));
  });

  it('does not send anything when the signal is already aborted', async () => {
    const responder = await serve(neverAnswer);
    const error = await rejection(
      checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0', signal: AbortSignal.abort() }),
    );
    expect(error.kind).toBe('aborted');
    expect(responder.requests).toHaveLength(0);
  });

  it('reports a refused connection as a network error with the underlying reason', async () => {
    const responder = await startFakeResponder(neverAnswer);
    await responder.close();
    const error = await rejection(checkForUpgrade({ url: responder.baseUrl, appVersion: 'v1.0.0' }));
    expect(error.kind).toBe('network');
    expect(error.status).toBeUndefined();
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('calls an injected fetch without binding it to the options object', async () => {
    const calls: unknown[] = [];
    const fetchStub = function (this: unknown) {
      calls.push(this);
      return Promise.resolve(Response.json({ versions: [{ name: 'v2.0.0', tags: ['latest'] }] }));
    } as unknown as typeof fetch;
    const result = await checkForUpgrade({ url: 'http://upgrades.test', appVersion: 'v1.0.0', fetch: fetchStub });
    expect(calls).toEqual([undefined]);
    expect(result.latest?.name).toBe('v2.0.0');
  });
});
