import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInfluxClient, InfluxError } from './influx-client.ts';
import { closedPort } from './sink.test.helper.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let server: Server | undefined;

async function fake(handler: Handler): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function failure(p: Promise<unknown>): Promise<InfluxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InfluxError)) throw new Error(`expected an InfluxError, got ${String(err)}`);
  return err;
}

describe('createInfluxClient', () => {
  it('posts form-encoded queries with basic auth and writes lines with ns precision', async () => {
    const seen: string[] = [];
    const url = await fake((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization} ${req.headers['content-type']} ${body}`);
      if (req.url?.startsWith('/write')) return void res.writeHead(204).end();
      json(res, 200, { results: [{ statement_id: 0 }] });
    });
    const client = createInfluxClient({ url: `${url}/`, user: 'u', pass: 'p w' });
    await client.query('CREATE DATABASE "a b"', 'db1');
    await client.write('my db', ['m f=1 1', 'm f=2 2']);
    const auth = `Basic ${Buffer.from('u:p w').toString('base64')}`;
    expect(seen).toEqual([
      `POST /query ${auth} application/x-www-form-urlencoded q=CREATE+DATABASE+%22a+b%22&db=db1`,
      `POST /write?db=my+db&precision=ns ${auth} text/plain; charset=utf-8 m f=1 1\nm f=2 2`,
    ]);
  });

  it('takes credentials from the URL too', async () => {
    let auth: string | undefined;
    const url = await fake((req, _body, res) => {
      auth = req.headers.authorization;
      json(res, 200, { results: [{ statement_id: 0 }] });
    });
    await createInfluxClient({ url: url.replace('//', '//admin:s%40cret@') }).query('SHOW DATABASES');
    expect(auth).toBe(`Basic ${Buffer.from('admin:s@cret').toString('base64')}`);
  });

  it('reports statement errors from a 200 answer as permanent', async () => {
    const url = await fake((_req, _body, res) =>
      json(res, 200, { results: [{ statement_id: 0, error: 'continuous query already exists' }] }),
    );
    const err = await failure(createInfluxClient({ url }).query('CREATE CONTINUOUS QUERY x'));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('continuous query already exists');
  });

  it('classifies HTTP errors and reads partial writes', async () => {
    const answers: [number, string][] = [
      [500, 'timeout'],
      [
        400,
        'partial write: field type conflict: input field "f" is type string, already exists as type float dropped=2',
      ],
      [404, 'database not found: "nope"'],
      [401, 'authorization failed'],
      [429, 'slow down'],
    ];
    let i = 0;
    const url = await fake((_req, _body, res) => {
      const [status, error] = answers[i++] ?? [500, 'x'];
      json(res, status, { error });
    });
    const client = createInfluxClient({ url });
    const errs = [];
    for (let n = 0; n < answers.length; n++) errs.push(await failure(client.write('db', ['m f=1'])));
    expect(errs.map((e) => [e.status, e.retryable, e.droppedPoints, e.databaseNotFound])).toEqual([
      [500, true, undefined, false],
      [400, false, 2, false],
      [404, false, undefined, true],
      [401, false, undefined, false],
      [429, true, undefined, false],
    ]);
    expect(errs[0]?.message).toBe('InfluxDB write to db: HTTP 500: timeout');
  });

  it('treats refused connections and timeouts as retryable', async () => {
    const refused = await failure(
      createInfluxClient({ url: `http://127.0.0.1:${await closedPort()}` }).query('SHOW DATABASES'),
    );
    expect(refused.retryable).toBe(true);
    expect(refused.message).toMatch(/ECONNREFUSED/);

    const url = await fake(() => {});
    const slow = await failure(createInfluxClient({ url, timeoutMs: 100 }).write('db', ['m f=1']));
    expect(slow.retryable).toBe(true);
    expect(slow.message).toContain('no answer within 100 ms');
  });

  it('does not retry a request its caller aborted', async () => {
    const url = await fake(() => {});
    const err = await failure(createInfluxClient({ url }).write('db', ['m f=1'], AbortSignal.timeout(50)));
    expect(err.retryable).toBe(false);
  });
});
