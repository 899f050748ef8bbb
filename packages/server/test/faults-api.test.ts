import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { resolveServerConfig } from '../src/config/config.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { faultMeta, makeFaultArchive } from '../src/faults/archive.test.helper.ts';
import { faultsRoutesWith } from '../src/faults/routes.ts';
import { installErrorHandling } from '../src/http/error-handler.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

describeEachStore(allStoreKinds)('fault reports API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agentToken: string;
  let agent: string;
  let viewer: string;
  let developer: string;

  const call = (method: string, path: string, opts: ApiCallOptions & { base?: string } = {}) =>
    callApi(opts.base ?? server.url, method, path, opts);
  const upload = async (file: string, token = agent, base?: string) =>
    call('POST', '/api/v1/agent/faults', { token, raw: readFileSync(file), base });
  const stored = () => {
    const dir = join(server.dir, 'faults');
    return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.tar.gz')) : [];
  };
  const temps = () => {
    const dir = join(server.dir, 'faults', 'tmp');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { faultMaxCount: '3' });
    store = openDatabase(server.database);
    const tokens = new TokenStore(store.db);
    viewer = (await tokens.create('viewer', 'viewer')).token;
    developer = (await tokens.create('developer', 'developer')).token;
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    const minted = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent-prod', environment: 'prod' },
    });
    expect(minted.status).toBe(201);
    agentToken = minted.body.token;
    // The instance fault.json names by default (faultMeta).
    agent = await agentCredentialFor(server.url, agentToken, 'host-1');
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('uploads, lists, shows and downloads a report', async () => {
    const file = await makeFaultArchive({
      meta: faultMeta({ environment: 'elsewhere', instanceId: 'host-7' }),
      logTail: 'starting\npanic: boom\n',
      files: { 'core.42': 'core dump bytes' },
    });
    const created = await upload(file, await agentCredentialFor(server.url, agentToken, 'host-7'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect(stored()).toContain(`${id}.tar.gz`);

    const list = await call('GET', '/api/v1/faults?service=web', { token: viewer });
    expect(list.status).toBe(200);
    expect(list.body.faults[0]).toMatchObject({ id, environment: 'prod', instanceId: 'host-7', exitCode: 3 });
    expect((await call('GET', '/api/v1/faults?instance=other', { token: viewer })).body.faults).toEqual([]);
    expect((await call('GET', '/api/v1/faults?environment=prod', { token: viewer })).body.faults.length).toBe(1);

    const shown = await call('GET', `/api/v1/faults/${id}`, { token: viewer });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id,
      logTail: ['starting', 'panic: boom'],
      state: { restarts: 2 },
      files: ['core.42'],
    });

    const archive = await call('GET', `/api/v1/faults/${id}/archive`, { token: viewer });
    expect(archive.status).toBe(200);
    expect(archive.headers.get('content-type')).toBe('application/gzip');
    expect(archive.headers.get('content-disposition')).toBe(`attachment; filename="fault-web-${id}.tar.gz"`);
    expect(archive.bytes.equals(readFileSync(file))).toBe(true);
    expect((await call('GET', '/api/v1/faults/nope', { token: viewer })).status).toBe(404);
    expect((await call('GET', '/api/v1/faults/nope/archive', { token: viewer })).status).toBe(404);
  });

  it('takes archives larger than the default body limit', async () => {
    const big = Buffer.from(crypto.getRandomValues(new Uint8Array(65536)));
    const file = await makeFaultArchive({
      files: { 'heap.hprof': Buffer.concat(Array.from({ length: 48 }, () => big)) },
    });
    expect(readFileSync(file).length).toBeGreaterThan(2 * 1024 * 1024);
    const created = await upload(file);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const shown = await call('GET', `/api/v1/faults/${created.body.id}`, { token: viewer });
    expect(shown.body.size).toBe(readFileSync(file).length);
  });

  it('refuses escaping archives and invalid fault.json, leaving no file and no row', async () => {
    const before = stored();
    const escaping = await upload(await makeFaultArchive({ extra: ['../escape-api'] }));
    expect(escaping.status).toBe(400);
    expect(escaping.body.error.message).toContain('escapes the archive root');
    const link = await upload(await makeFaultArchive({ links: { 'files/x': '../../etc/passwd' } }));
    expect(link.status).toBe(400);
    expect(link.body.error.message).toContain('link');
    const invalid = await upload(await makeFaultArchive({ meta: faultMeta({ exitCode: 'three', reason: 7 }) }));
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toContain('/exitCode');
    expect(invalid.body.error.message).toContain('/reason');
    expect(stored()).toEqual(before);
    expect(temps()).toEqual([]);
    const listed = await call('GET', '/api/v1/faults?limit=500', { token: viewer });
    expect(listed.body.faults.length).toBe(before.length);
  });

  it('answers 400 to a fault.json nested 5,000 levels deep', async () => {
    const before = stored();
    const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    // Otherwise valid: only the depth of `state` is wrong.
    const meta = JSON.stringify(faultMeta({ state: { x: 'DEEP' } })).replace('"DEEP"', nested);
    const deep = await upload(await makeFaultArchive({ meta }));
    expect(deep.status).toBe(400);
    expect(deep.body.error).toMatchObject({ code: 'invalid', message: expect.stringContaining('nested deeper') });
    expect(stored()).toEqual(before);
    expect(temps()).toEqual([]);
  });

  it('puts only catalog services into /metrics labels, never agent-sent names with NUL and CR', async () => {
    expect((await call('POST', '/api/v1/services', { body: { name: 'known-svc' } })).status).toBe(201);
    const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, service: string) =>
      Number(new RegExp(`^flotilla_fault_reports_total\\{service="${service}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const start = await scrape();
    const hostile = await upload(
      await makeFaultArchive({ meta: faultMeta({ service: 'evil\u0000\r\nfake{x="1"} 9' }) }),
    );
    // Control characters in a name are refused outright; other names outside the catalog are still taken.
    expect(hostile.status).toBe(400);
    expect(hostile.body.error).toMatchObject({ code: 'invalid', message: expect.stringContaining('/service') });
    const invented = await upload(await makeFaultArchive({ meta: faultMeta({ service: 'never-published"} 9 #' }) }));
    expect(invented.status).toBe(201);
    expect((await upload(await makeFaultArchive({ meta: faultMeta({ service: 'known-svc' }) }))).status).toBe(201);
    const text = await scrape();
    expect(text.includes('\u0000') || text.includes('\r')).toBe(false);
    expect(text).not.toContain('evil');
    expect(text).not.toContain('never-published');
    expect(count(text, '\\(unknown\\)') - count(start, '\\(unknown\\)')).toBe(1);
    expect(count(text, 'known-svc') - count(start, 'known-svc')).toBe(1);
    // Valid exposition text: every line is a comment, blank, or `name{labels} value`.
    for (const line of text.split('\n')) {
      expect(line, line).toMatch(/^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^\n]*\})? \S+)?$/);
    }
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    for (const path of [
      '/api/v1/agent/faults',
      '/api/v1/faults',
      '/api/v1/faults/{id}',
      '/api/v1/faults/{id}/archive',
    ]) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
    expect(doc.body.paths['/api/v1/fleet']).toBeDefined();
  });

  it('checks credentials: agent tokens upload, viewers read', async () => {
    const file = await makeFaultArchive();
    expect((await upload(file, '')).status).toBe(401);
    expect((await upload(file, 'flt_nope')).status).toBe(401);
    expect((await upload(file, developer)).status).toBe(403);
    expect((await upload(file, agentToken)).status).toBe(403);
    expect((await upload(file, adminToken)).status).toBe(403);
    expect((await call('GET', '/api/v1/faults', { token: null })).status).toBe(401);
    expect((await call('GET', '/api/v1/faults', { token: agent })).status).toBe(403);
    expect((await call('GET', '/api/v1/faults/x/archive', { token: agent })).status).toBe(403);
  });

  it('keeps at most the configured count per service, oldest removed', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const file = await makeFaultArchive({ meta: faultMeta({ service: 'api', time: `2026-02-0${i + 1}T00:00:00Z` }) });
      ids.push((await upload(file)).body.id);
    }
    const listed = await call('GET', '/api/v1/faults?service=api', { token: viewer });
    expect(listed.body.faults.map((f: { id: string }) => f.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(stored()).not.toContain(`${ids[0]}.tar.gz`);
  });

  it('answers 413 when the declared length is over the 256 MiB limit, before reading the body', async () => {
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/api/v1/agent/faults',
          headers: {
            authorization: `Bearer ${agent}`,
            'content-type': 'application/gzip',
            'content-length': String(300 * 1024 ** 2),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
    expect(temps()).toEqual([]);
  });

  it('leaves no file and no row when the client aborts mid-upload', async () => {
    const before = stored();
    const count = (await call('GET', '/api/v1/faults?limit=500', { token: viewer })).body.faults.length;
    const url = new URL(server.url);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/api/v1/agent/faults',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/gzip', 'content-length': '100000' },
    });
    req.on('error', () => {});
    req.write(readFileSync(await makeFaultArchive()).subarray(0, 50));
    // Wait until the server has started writing the temp file, then cut the connection.
    for (let i = 0; i < 100 && temps().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(temps().length).toBe(1);
    req.destroy();
    for (let i = 0; i < 100 && temps().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(temps()).toEqual([]);
    expect(stored()).toEqual(before);
    expect((await call('GET', '/api/v1/faults?limit=500', { token: viewer })).body.faults.length).toBe(count);
  });

  describe('with a small upload limit', () => {
    let small: FastifyInstance;
    let base: string;
    beforeAll(async () => {
      // The same routes, store and data dir as the server above, with a 4 KiB limit.
      const config = resolveServerConfig(
        { host: '127.0.0.1', port: '0', dataDir: server.dir, geodb: 'off', database: server.database },
        {},
        server.dir,
      );
      small = Fastify({ logger: false });
      installErrorHandling(small);
      const logger = pino({ level: 'silent' });
      await small.register(faultsRoutesWith({ maxArchiveBytes: 4096 }), {
        db: store.db,
        dialect: kind,
        tokens: new TokenStore(store.db),
        dataDir: server.dir,
        logger,
        config,
        metrics: createMetrics(),
      });
      base = await small.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await small?.close();
    });

    it('answers 413 for a streamed upload over the limit and keeps nothing', async () => {
      const before = stored();
      const file = await makeFaultArchive({
        files: { big: Buffer.from(crypto.getRandomValues(new Uint8Array(16384))) },
      });
      const res = await upload(file, agent, base);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('payload_too_large');
      // Chunked, so no declared length: the limit is met while streaming.
      const chunked = await fetch(`${base}/api/v1/agent/faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/gzip' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(readFileSync(file));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(stored()).toEqual(before);
      expect(temps()).toEqual([]);
      const ok = await upload(await makeFaultArchive(), agent, base);
      expect(ok.status).toBe(201);
    });
  });
});
