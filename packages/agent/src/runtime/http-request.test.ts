import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpTimeoutError, httpRequest, ResponseTooLargeError } from './http-request.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-http-'));
let server: Server;
let base = '';
const sockets = new Set<string>();

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>> = {
  '/json': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}'),
  '/echo': async (req, res) => {
    const body = await readBody(req);
    res.writeHead(201, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        method: req.method,
        type: req.headers['content-type'],
        length: req.headers['content-length'],
        body: body.toString('base64'),
      }),
    );
  },
  '/big': (_req, res) => void res.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000, 1)),
  '/big-chunked': (_req, res) => {
    res.writeHead(200);
    res.write(Buffer.alloc(3000, 1));
    setTimeout(() => res.end(Buffer.alloc(3000, 2)), 20);
  },
  '/refused': (_req, res) =>
    void res
      .writeHead(403, { 'content-type': 'application/json', 'retry-after': '7' })
      .end('{"error":{"code":"forbidden","message":"no"}}'),
  '/hang': () => {},
  '/stall': (_req, res) => {
    res.writeHead(200, { 'content-length': 100 });
    res.write(Buffer.alloc(10));
  },
  '/stream': (_req, res) => {
    res.writeHead(200);
    let n = 0;
    const tick = setInterval(() => {
      res.write(Buffer.alloc(1024, n));
      if (++n === 20) {
        clearInterval(tick);
        res.end();
      }
    }, 2);
  },
  '/cut': (req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(100));
    setTimeout(() => req.socket.destroy(), 20);
  },
  '/moved': (_req, res) => void res.writeHead(302, { location: '/json' }).end(),
  '/away': (req, res) => void res.writeHead(307, { location: `http://localhost:${req.socket.localPort}/auth` }).end(),
  '/auth': (req, res) => void res.end(JSON.stringify({ authorization: req.headers.authorization ?? null })),
  '/empty': (_req, res) => void res.writeHead(204).end(),
  '/port': (req, res) => void res.end(String(req.socket.remotePort)),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(`${req.socket.remotePort}`);
    const route = routes[(req.url ?? '').split('?')[0] as string];
    if (!route) return void res.writeHead(404).end();
    void route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

describe('httpRequest', () => {
  it('reads JSON, and keeps the connection alive between requests', async () => {
    const res = await httpRequest(`${base}/json`);
    expect(res.ok).toBe(true);
    expect(res.header('Content-Type')).toBe('application/json');
    expect(await res.json()).toEqual({ a: 1 });
    const first = await (await httpRequest(`${base}/port`)).text();
    const second = await (await httpRequest(`${base}/port`)).text();
    expect(second).toBe(first);
  });

  it('hands the connection back once a dropped body is read, so the pool never runs dry', async () => {
    const ports = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const res = await httpRequest(`${base}/${i % 2 ? 'empty' : 'json'}`, { timeoutMs: 2000 });
      expect(res.ok).toBe(true);
      res.discard();
      ports.add(await (await httpRequest(`${base}/port`, { timeoutMs: 2000 })).text());
    }
    // A dropped body is read in the background: the next request may open one more connection, no more.
    expect(ports.size).toBeLessThanOrEqual(2);
  });

  it('sends JSON, Buffer and file bodies with their content-length', async () => {
    const json = await (await httpRequest(`${base}/echo`, { method: 'POST', json: { x: 'é' } })).json<Echo>();
    expect(json).toMatchObject({ method: 'POST', type: 'application/json', length: '10' });
    expect(Buffer.from(json.body, 'base64').toString()).toBe('{"x":"é"}');
    const bytes = Buffer.from([0, 1, 2, 255]);
    const raw = await (
      await httpRequest(`${base}/echo`, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': 'application/gzip' },
      })
    ).json<Echo>();
    expect(raw).toMatchObject({ type: 'application/gzip', length: '4' });
    expect(Buffer.from(raw.body, 'base64').equals(bytes)).toBe(true);
    const file = join(work, 'upload.bin');
    const content = Buffer.alloc(300_000, 7);
    writeFileSync(file, content);
    const res = await httpRequest(`${base}/echo`, { method: 'POST', file });
    expect(res.status).toBe(201);
    const echoed = await res.json<Echo>(1024 * 1024);
    expect(echoed.length).toBe('300000');
    expect(Buffer.from(echoed.body, 'base64').equals(content)).toBe(true);
  });

  it('answers non-2xx statuses with their body and headers, not an error', async () => {
    const res = await httpRequest(`${base}/refused`);
    expect(res.ok).toBe(false);
    expect(res.status).toBe(403);
    expect(res.statusText).toBe('Forbidden');
    expect(res.header('retry-after')).toBe('7');
    expect(await res.json()).toEqual({ error: { code: 'forbidden', message: 'no' } });
    expect((await httpRequest(`${base}/nowhere`)).status).toBe(404);
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    await expect((await httpRequest(`${base}/big`)).bytes(4096)).rejects.toThrow(ResponseTooLargeError);
    await expect((await httpRequest(`${base}/big-chunked`)).text(4096)).rejects.toThrow(/larger than 4096 bytes/);
    expect((await (await httpRequest(`${base}/big`)).bytes(5000)).length).toBe(5000);
  });

  it('times out a request that gets no answer, and one whose body stalls', async () => {
    const started = Date.now();
    const err = await httpRequest(`${base}/hang`, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpTimeoutError);
    expect(err).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(5000);
    const res = await httpRequest(`${base}/stall`, { timeoutMs: 300 });
    await expect(res.text()).rejects.toThrow(/no answer from .* within 0\.3 s/);
    const idle = await httpRequest(`${base}/stall`, { idleTimeoutMs: 200 });
    await expect(idle.bytes()).rejects.toThrow(/sent nothing for 0\.2 s/);
  });

  it('rejects with the reason of an abort, before and after the answer', async () => {
    const before = new AbortController();
    const pending = httpRequest(`${base}/hang`, { signal: before.signal });
    before.abort(new Error('stopping'));
    await expect(pending).rejects.toThrow('stopping');
    const after = new AbortController();
    const res = await httpRequest(`${base}/stall`, { signal: after.signal });
    const reading = res.text();
    after.abort(new Error('stopping now'));
    await expect(reading).rejects.toThrow('stopping now');
    const gone = new AbortController();
    gone.abort(new Error('already'));
    await expect(httpRequest(`${base}/json`, { signal: gone.signal })).rejects.toThrow('already');
  });

  it('streams a body as it arrives, and ends it with an error when the connection is cut', async () => {
    const res = await httpRequest(`${base}/stream`);
    let chunks = 0;
    let size = 0;
    for await (const chunk of res.body()) {
      chunks++;
      size += chunk.length;
    }
    expect(size).toBe(20 * 1024);
    expect(chunks).toBeGreaterThan(1);
    const cut = await httpRequest(`${base}/cut`);
    let got = 0;
    await expect(
      (async () => {
        for await (const chunk of cut.body()) got += chunk.length;
      })(),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(got).toBe(100);
  });

  it('shows network errors with their code, and follows redirects only when asked', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(httpRequest(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    await expect(httpRequest('ftp://127.0.0.1/')).rejects.toThrow(/unsupported URL protocol ftp:/);
    expect((await httpRequest(`${base}/moved`)).status).toBe(302);
    const followed = await httpRequest(`${base}/moved`, { maxRedirects: 1 });
    expect(followed.status).toBe(200);
    expect(await followed.json()).toEqual({ a: 1 });
    const away = await httpRequest(`${base}/away`, { maxRedirects: 1, headers: { Authorization: 'Bearer x' } });
    expect(await away.json()).toEqual({ authorization: null });
    const same = await httpRequest(`${base}/auth`, { headers: { authorization: 'Bearer x' } });
    expect(await same.json()).toEqual({ authorization: 'Bearer x' });
  });
});

describe('what a request loads', () => {
  it('never loads undici (fetch), which would cost the agent about 16 MB', async () => {
    const script = `
      const { httpRequest } = await import(${JSON.stringify(new URL('./http-request.ts', import.meta.url).href)});
      const res = await httpRequest(${JSON.stringify(`${base}/json`)}, { timeoutMs: 5000 });
      console.log(JSON.stringify({ body: await res.json(), undici: process.moduleLoadList.some((m) => m.includes('undici')) }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toEqual({ body: { a: 1 }, undici: false });
  });
});

describe('a kept-alive connection the server dropped', () => {
  it('sends a GET once more on a new connection, but not a POST', async () => {
    // Answers the first request on each connection, then drops the connection at the next one.
    const connections: Socket[] = [];
    const raw = createNetServer((socket) => {
      connections.push(socket);
      let answered = false;
      socket.on('data', () => {
        if (answered) return void socket.destroy();
        answered = true;
        socket.write('HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(raw.address() as { port: number }).port}/`;
    try {
      expect(await (await httpRequest(url)).text()).toBe('ok');
      expect(await (await httpRequest(url)).text()).toBe('ok');
      expect(connections).toHaveLength(2);
      await expect(httpRequest(url, { method: 'POST', json: {} })).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(connections).toHaveLength(2);
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});

interface Echo {
  method: string;
  type: string;
  length: string;
  body: string;
}
