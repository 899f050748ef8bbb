import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';

// A server whose open-file limit is low, flooded with connections: it refuses the ones beyond what
// its descriptors allow with a clear 503, and keeps serving those it holds, an admin's included.

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const admin = 'flt_descriptor_limit_test_token';
const sockets: Socket[] = [];
let server: ChildProcess | undefined;

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
  }
  server = undefined;
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

/** One kept-open connection that sends requests and reads each answer's status line and body. */
function connection(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let buffered = '';
  let waiting: ((text: string) => void) | undefined;
  const settle = () => {
    const m = /\r\n\r\n/.exec(buffered);
    if (!m || !waiting) return;
    const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, m.index))?.[1] ?? 0);
    const end = m.index + 4 + length;
    if (buffered.length < end) return;
    const answer = buffered.slice(0, end);
    buffered = buffered.slice(end);
    const done = waiting;
    waiting = undefined;
    // As any HTTP client does with "Connection: close".
    if (/\r\nconnection: close\r\n/i.test(answer)) socket.destroy();
    done(answer);
  };
  socket.on('data', (d) => {
    buffered += d.toString();
    settle();
  });
  socket.on('error', () => {});
  socket.on('close', () => waiting?.(buffered || 'closed'));
  return {
    ask(path: string, token?: string, etag?: string): Promise<string> {
      return new Promise((resolve) => {
        waiting = resolve;
        const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
        const match = etag ? `If-None-Match: ${etag}\r\n` : '';
        socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n${auth}${match}\r\n`);
        settle();
      });
    },
  };
}

async function startServer(threads: number, fileLimit: number) {
  const port = await freePort();
  const dir = makeTempDir('flotilla-fd-');
  const args = ['--conditions=@flotilla/source', main, 'server', '--host', '127.0.0.1', '--port', String(port)];
  args.push('--data-dir', dir, '--geodb', 'off', '--log-level', 'warn', '--checkin-threads', String(threads));
  const quoted = args.map((a) => `'${a}'`).join(' ');
  server = spawn('bash', ['-c', `ulimit -n ${fileLimit} && exec '${process.execPath}' ${quoted}`], {
    env: { ...process.env, FLOTILLA_ADMIN_TOKEN: admin },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

describe.each([
  { threads: 0, fileLimit: 300 },
  { threads: 2, fileLimit: 1500 },
])('a server out of descriptors (check-in threads: $threads)', ({ threads, fileLimit }) => {
  it('refuses new connections with 503 and keeps serving the open ones', async () => {
    const port = await startServer(threads, fileLimit);
    const adminConnection = connection(port);
    expect(await adminConnection.ask('/api/v1/environments', admin)).toMatch(/^HTTP\/1.1 200/);

    const flood = Array.from({ length: fileLimit + 100 }, () => connection(port));
    const answers = await Promise.all(flood.map((c) => c.ask('/healthz')));
    const ok = answers.filter((a) => a.startsWith('HTTP/1.1 200')).length;
    const refused = answers.filter((a) => a.startsWith('HTTP/1.1 503') && a.includes('"code":"overloaded"'));
    expect(ok).toBeGreaterThan(10);
    expect(refused.length).toBeGreaterThan(0);
    // Beyond what it can answer at once, a flood's extra connections are closed without an answer.
    const closed = answers.filter((a) => a === 'closed').length;
    expect(ok + refused.length + closed).toBe(answers.length);
    expect(refused[0]).toContain('Retry-After: 10');

    // The connections it holds, the admin's included, are still answered.
    expect(await adminConnection.ask('/api/v1/environments', admin)).toMatch(/^HTTP\/1.1 200/);
    // Closing some makes room for new ones.
    for (const s of sockets.splice(1, 100)) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(await connection(port).ask('/healthz')).toMatch(/^HTTP\/1.1 200/);
    expect(server?.exitCode).toBeNull();
  }, 60_000);
});

describe('agents waiting on a server with check-in threads', () => {
  it('cost the server one descriptor each: polls are parked in the threads, not passed through', async () => {
    const port = await startServer(2, 4000);
    const base = `http://127.0.0.1:${port}`;
    const api = (path: string, token: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await api('/api/v1/environments', admin, { name: 'fleet' })).status).toBe(201);
    const agentToken = (await (
      await api('/api/v1/tokens', admin, { kind: 'agent', name: 'a', environment: 'fleet' })
    ).json()) as { token: string };
    const agents = 200;
    const credentials = await Promise.all(
      Array.from({ length: agents }, async (_, i) => {
        const enrolled = await api('/api/v1/agent/enroll', agentToken.token, { instanceId: `host-${i}` });
        return ((await enrolled.json()) as { credential: string }).credential;
      }),
    );
    const first = await api('/api/v1/agent/desired', credentials[0] as string);
    const etag = first.headers.get('etag') as string;
    const descriptors = () => readdirSync(`/proc/${server?.pid}/fd`).length;
    await new Promise((r) => setTimeout(r, 500));
    const before = descriptors();
    const polls = credentials.map((credential) => {
      const c = connection(port);
      return c.ask('/api/v1/agent/desired?wait=2s', credential, etag);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const added = descriptors() - before;
    // One socket per waiting agent (and a few the server opens meanwhile); passed through, it was three.
    expect(added).toBeGreaterThanOrEqual(agents);
    expect(added).toBeLessThan(agents * 1.25);
    const answers = await Promise.all(polls);
    expect(answers.every((a) => a.startsWith('HTTP/1.1 304'))).toBe(true);
  }, 60_000);
});
