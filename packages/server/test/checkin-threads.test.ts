import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.ts';
import { callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore, storedCheckins } from './support/databases.ts';
import { freePort } from './support/ports.ts';
import { startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const responseConfig = {
  versions: [{ name: 'v1.1.0', releaseDate: '2020-06-30T10:20:00Z', tags: ['latest'] }],
};
const requestSchema = {
  appVersionSchema: { dataType: 'string', maxLen: 50 },
  extraTagInfoSchema: { arch: { dataType: 'string' } },
  extraFieldInfoSchema: { nodeCount: { dataType: 'float' } },
};
const body = '{"appVersion":"v1.0.0","extraTagInfo":{"arch":"amd64","extra":"x"},"extraFieldInfo":{"nodeCount":3}}';

/** A raw POST whose body arrives in chunks without a Content-Length. */
function postChunked(url: string, chunks: string[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

// The same answers whether HTTP is served on the main thread or on check-in threads.
describeEachStore(allStoreKinds.flatMap((kind) => [0, 2].map((threads) => [kind, threads] as const)))(
  'check-ins on %s with %i check-in threads',
  (kind, threads) => {
    let server: TestServer;
    const post = (path: string, text: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { method: 'POST', body: text, headers });
    beforeAll(async () => {
      const dir = makeTempDir('flotilla-threads-');
      server = await startTestServer(
        kind,
        {
          applicationName: 'longhorn',
          upgradeResponseConfig: writeTemp(dir, 'response.json', responseConfig),
          requestSchema: writeTemp(dir, 'schema.json', requestSchema),
          rateLimit: '0',
          checkinThreads: String(threads),
        },
        { dir },
      );
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('answers check-ins on both routes, with a trailing slash and a query string', async () => {
      const answers = await Promise.all(
        ['/v1/checkupgrade', '/v1/apps/longhorn/checkupgrade', '/v1/checkupgrade/', '/v1/checkupgrade?x=1'].map(
          (path) => post(path, body, { 'content-type': 'text/plain' }),
        ),
      );
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/json');
        expect(await res.text()).toBe(
          '{"versions":[{"name":"v1.1.0","releaseDate":"2020-06-30T10:20:00Z","minUpgradableVersion":"","tags":["latest"],"extraInfo":null}],"requestIntervalInMinutes":60}',
        );
      }
    });

    it('refuses bad check-ins with the same statuses and error bodies', async () => {
      const bad = await post('/v1/checkupgrade', '{"appVersion":');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid');
      const wrongType = await post('/v1/checkupgrade', '{"appVersion":1}');
      expect(await wrongType.json()).toEqual({ error: { code: 'invalid', message: '"appVersion" must be a string' } });
      const unknown = await post('/v1/apps/nope/checkupgrade', body);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: { code: 'not_found', message: 'no app named "nope"' } });
      const large = await post('/v1/checkupgrade', `{"appVersion":"${'x'.repeat(70_000)}"}`);
      expect(large.status).toBe(413);
      expect(((await large.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
      const chunked = await postChunked(`${server.url}/v1/checkupgrade`, Array(70).fill('x'.repeat(1024)));
      expect(chunked.status).toBe(413);
      const get = await fetch(`${server.url}/v1/checkupgrade`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('takes null values inside the maps as upgrade-responder does: an empty tag, a dropped field', async () => {
      const res = await post(
        '/v1/checkupgrade',
        '{"appVersion":"v0.null","extraTagInfo":{"arch":null},"extraFieldInfo":{"nodeCount":null},"extraInfo":{"x":null}}',
      );
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const database = openDatabase(server.database);
      try {
        const rows = await database.db
          .selectFrom('checkins')
          .select(['tags', 'fields'])
          .where('app_version', '=', 'v0.null')
          .execute();
        expect(rows.map((r) => [JSON.parse(r.tags), JSON.parse(r.fields)])).toEqual([[{ arch: '' }, {}]]);
      } finally {
        await database.close();
      }
    });

    it('answers requests Node cannot read in the error format: 431 for huge headers, 400 otherwise', async () => {
      const huge = await rawExchange(
        server.url,
        `POST /v1/checkupgrade HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`,
        5000,
      );
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      expect(huge).toContain('{"error":{"code":"headers_too_large"');
      const garbage = await rawExchange(server.url, 'NOT HTTP AT ALL\r\n\r\n', 5000);
      expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
      expect(garbage).toContain('{"error":{"code":"invalid","message":"the request is not valid HTTP/1.1"}}');
    });

    it('serves the rest of the API on the same port, credentials checked', async () => {
      expect((await callApi(server.url, 'GET', '/api/v1/apps')).body.apps[0].name).toBe('longhorn');
      expect((await callApi(server.url, 'GET', '/api/v1/apps', { token: null })).status).toBe(401);
      expect((await callApi(server.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    });

    it('counts check-ins in the metrics at once, and their dropped values', async () => {
      await post('/v1/apps/longhorn/checkupgrade', body);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const count = (route: string, status: number) =>
        Number(
          new RegExp(
            `flotilla_http_requests_total\\{method="POST",route="${route.replace(/\//g, '\\/')}",status="${status}"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        );
      expect(count('/v1/apps/:app/checkupgrade', 200)).toBeGreaterThanOrEqual(2);
      expect(count('/v1/checkupgrade', 400)).toBe(2);
      expect(text).toMatch(
        /flotilla_checkin_values_dropped_total\{app="longhorn",kind="tag",reason="not_in_schema"\} \d+/,
      );
    });

    it('stores every acknowledged check-in when it closes under load', async () => {
      const before = await storedCheckins(server.database);
      const requests = Array.from({ length: 300 }, () =>
        post('/v1/checkupgrade', body).then(
          (res) => res.status,
          () => 0,
        ),
      );
      // Close once the first answers are out, with the rest still in flight.
      await Promise.race(requests);
      await server.close();
      const statuses = await Promise.all(requests);
      const acknowledged = statuses.filter((s) => s === 200).length;
      expect(acknowledged).toBeGreaterThan(0);
      expect((await storedCheckins(server.database)) - before).toBeGreaterThanOrEqual(acknowledged);
    });
  },
);

describe.each([0, 2])('rate limits with %i check-in threads', (threads) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { rateLimit: '2', checkinThreads: String(threads) });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('limits each client address across threads and says when to retry', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      // A new connection each time, so the kernel may hand it to either thread.
      const res = await fetch(`${server.url}/v1/checkupgrade`, {
        method: 'POST',
        body: '{"appVersion":"v1.0.0"}',
        headers: { connection: 'close' },
      });
      statuses.push(res.status);
      // The same headers whichever thread answers: Retry-After on a 429 and no x-ratelimit-*.
      expect([...res.headers.keys()].filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});

describe('a check-in thread that stops', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { checkinThreads: '2', rateLimit: '0' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const metric = async (name: string) => {
    // A new connection each time: a pooled one may belong to the thread the test stops.
    const text = await (await fetch(`${server.url}/metrics`, { headers: { connection: 'close' } })).text();
    return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  };
  // New connections each time, so the kernel spreads them over whichever threads listen.
  const checkIns = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        fetch(`${server.url}/v1/checkupgrade`, {
          method: 'POST',
          body: '{"appVersion":"v1.0.0"}',
          headers: { connection: 'close' },
        }).then(async (res) => {
          await res.arrayBuffer();
          return res.status;
        }),
      ),
    );

  it.runIf(process.platform === 'linux')('runs below the main thread in CPU priority', () => {
    const nice = (statPath: string) => {
      const stat = readFileSync(statPath, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Field 19 of proc_pid_stat(5); the fields after the name start at field 3.
      return { name, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) };
    };
    const threads = readdirSync('/proc/self/task').map((tid) => nice(`/proc/self/task/${tid}/stat`));
    const checkinThreads = threads.filter((t) => t.name.startsWith('flotilla-check'));
    expect(checkinThreads).toHaveLength(2);
    const mainNice = nice('/proc/self/stat').nice;
    for (const t of checkinThreads) expect(t.nice).toBe(Math.min(19, mainNice + 5));
  });

  it('is replaced, and check-ins go on being answered meanwhile', async () => {
    expect(await metric('flotilla_checkin_threads')).toBe(2);
    const [victim] = server.checkinThreads?.workers() ?? [];
    expect(victim).toBeDefined();
    await victim?.terminate();
    expect(await metric('flotilla_checkin_threads')).toBe(1);
    // The kernel hands new connections only to the thread that still listens.
    expect(await checkIns(20)).toEqual(Array(20).fill(200));
    const deadline = Date.now() + 10_000;
    while ((await metric('flotilla_checkin_threads')) < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await metric('flotilla_checkin_threads')).toBe(2);
    expect(await metric('flotilla_checkin_thread_restarts_total')).toBe(1);
    expect(server.checkinThreads?.workers()).not.toContain(victim);
    expect(await checkIns(20)).toEqual(Array(20).fill(200));
  });
});

/** Writes raw bytes to the server and reads until it closes the connection or `ms` pass. */
function rawExchange(url: string, bytes: string, ms = 1000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    const done = () => resolve(text);
    socket.once('close', done);
    socket.once('error', done);
    socket.write(bytes);
    setTimeout(() => socket.destroy(), ms);
  });
}

describe('the pass-through to the main thread', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { checkinThreads: '1' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('keeps a chunked body of a GET framed, so it cannot smuggle a request', async () => {
    const before = await storedCheckins(server.database);
    const body = '{"appVersion":"v9.9.9"}';
    const smuggled = `POST /v1/checkupgrade HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const chunk = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    await rawExchange(
      server.url,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    // Had the body gone on as raw bytes, the main thread would have stored a check-in nobody sent.
    expect(await storedCheckins(server.database)).toBe(before);
    for (let i = 0; i < 5; i++) {
      expect((await callApi(server.url, 'GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
    }
  });

  it('passes X-Forwarded-Proto on only from a trusted proxy (no Secure cookie on a claim of https)', async () => {
    const password = 'pass-through password 1';
    const created = await callApi(server.url, 'POST', '/api/v1/users', {
      body: { name: 'pat', role: 'developer', password },
    });
    expect(created.status).toBe(201);
    const res = await fetch(`${server.url}/api/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-flotilla-csrf': '1', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ name: 'pat', password }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^flotilla_session=/);
    expect(res.headers.get('set-cookie')).not.toContain('Secure');
  });

  it('refuses to share its port with another server', async () => {
    const port = new URL(server.url).port;
    await expect(startTestServer('sqlite', { checkinThreads: '1', port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('is not ready until every thread listens', async () => {
    const port = await freePort();
    const seen: Array<{ status: number; body: string; afterStart: boolean }> = [];
    let started = false;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
          seen.push({ status: res.status, body: await res.text(), afterStart: started });
        } catch {
          // Not bound yet.
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const second = await startTestServer('sqlite', { checkinThreads: '2', port: String(port) });
    started = true;
    const deadline = Date.now() + 10_000;
    while (!seen.some((a) => a.afterStart && a.status === 200) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    polling = false;
    await poller;
    await second.stop();
    for (const answer of seen.filter((a) => !a.afterStart)) {
      expect(answer).toEqual({ status: 503, body: '{"status":"not ready","reason":"starting"}', afterStart: false });
    }
    expect(seen.filter((a) => a.afterStart).map((a) => a.status)).toContain(200);
  });
});
