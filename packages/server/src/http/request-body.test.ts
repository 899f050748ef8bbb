import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBody } from '../../test/support/send-body.ts';
import { DomainError } from '../errors.ts';
import { installErrorHandling } from './error-handler.ts';
import { detachedBody, drainThenClose } from './request-body.ts';

const limit = 256 * 1024;

/** A stream upload route like artifact and fault uploads: it refuses mid-body past `limit` bytes. */
async function uploadApp(outcomes: string[]): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandling(app);
  app.addContentTypeParser('application/gzip', (_request, payload, done) => done(null, detachedBody(payload)));
  app.post('/upload', async (request) => {
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) return done(new DomainError('payload_too_large', `larger than ${limit} bytes`));
        done(null, chunk);
      },
    });
    try {
      await pipeline(request.body as NodeJS.ReadableStream, meter, new Writable({ write: (_c, _e, cb) => cb() }));
    } catch (err) {
      outcomes.push((err as Error).message);
      throw err;
    }
    return { size };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

describe('stream uploads refused mid-body', () => {
  const outcomes: string[] = [];
  let app: FastifyInstance;
  let url: string;
  const connections = () => new Promise<number>((r) => app.server.getConnections((_err, n) => r(n)));
  beforeAll(async () => {
    app = await uploadApp(outcomes);
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  it('an oversized gzip stream always gets 413, never a reset, and leaves no connection open', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 7);
    const headers = { 'content-type': 'application/gzip' };
    for (let round = 0; round < 20; round++) {
      for (const pace of [{}, { chunk: 16 * 1024, delayMs: 1 }]) {
        const answer = await sendBody(url, 'POST', '/upload', body, { headers, ...pace });
        expect({ round, pace, status: answer.status, code: answer.body.error?.code }).toEqual({
          round,
          pace,
          status: 413,
          code: 'payload_too_large',
        });
      }
    }
    // The client closed each connection after its answer; the server's side closed too.
    await expect.poll(connections).toBe(0);
    expect((await sendBody(url, 'POST', '/upload', Buffer.alloc(1000), { headers })).status).toBe(200);
  });

  it('still fails the upload when the client goes away mid-body', async () => {
    outcomes.length = 0;
    const req = request(`${url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', 'content-length': 100_000 },
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(10_000));
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    // The reader sees an error (its temp file would be removed) rather than waiting for the rest.
    await expect.poll(() => outcomes.length).toBe(1);
    await expect.poll(connections).toBe(0);
  });
});

describe('drainThenClose', () => {
  it('cuts a body that keeps arriving after the answer', async () => {
    const server = createServer((req, res) => {
      res.writeHead(413, { 'content-type': 'application/json' }).end('{}');
      drainThenClose(req, 300);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const started = Date.now();
      const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': 1e9 } });
      const status = new Promise<number>((r) => req.once('response', (res) => r(res.statusCode ?? 0)));
      const closed = new Promise((r) => req.once('close', r));
      req.on('error', () => {});
      const timer = setInterval(() => req.write(Buffer.alloc(1024)), 20);
      expect(await status).toBe(413);
      await closed;
      clearInterval(timer);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.close();
    }
  });
});

describe('drainThenClose', () => {
  it('cuts a body still arriving after the linger time, also on an injected request without a real socket', async () => {
    const app = Fastify();
    installErrorHandling(app);
    app.post('/early', { bodyLimit: 16 }, async () => ({ ok: true }));
    await app.ready();
    // inject() gives the request a stand-in socket with no destroy(); the cut must not throw from its timer.
    const answer = await app.inject({ method: 'POST', url: '/early', payload: { text: 'x'.repeat(64) } });
    expect(answer.statusCode).toBe(413);
    const { Readable } = await import('node:stream');
    const stalled = Object.assign(new Readable({ read() {} }), {
      complete: false,
      socket: { remoteAddress: '127.0.0.1' },
    });
    const errors: unknown[] = [];
    const record = (err: unknown) => errors.push(err);
    process.on('uncaughtException', record);
    drainThenClose(stalled as never, 20);
    await new Promise((r) => setTimeout(r, 60));
    process.off('uncaughtException', record);
    expect(errors).toEqual([]);
    expect(stalled.destroyed).toBe(true);
    await app.close();
  });
});
