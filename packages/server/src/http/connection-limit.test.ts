import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionBudget, limitConnections, openFileLimit } from './connection-limit.ts';

const servers: ReturnType<typeof createServer>[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function limitedServer(limit: number) {
  let refused = 0;
  const server = createServer((_req, res) => res.end('ok'));
  servers.push(server);
  limitConnections(server, limit, () => refused++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, refused: () => refused };
}

/** Sends one request on a fresh connection left open, and reads what comes back until the first answer ends. */
function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (/\r\n\r\n/.test(text) && (text.endsWith('ok') || text.endsWith('}}'))) resolve(text);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

describe('connection limit', () => {
  it('answers 503 with Retry-After beyond the limit and serves the connections already open', async () => {
    const { port, refused } = await limitedServer(2);
    expect(await ask(port)).toMatch(/^HTTP\/1.1 200/);
    expect(await ask(port)).toMatch(/^HTTP\/1.1 200/);
    const third = await ask(port);
    expect(third).toMatch(/^HTTP\/1.1 503/);
    expect(third).toMatch(/Retry-After: 10/);
    expect(third).toContain('"code":"overloaded"');
    expect(refused()).toBe(1);
    // A connection that is closed makes room for the next one.
    sockets[0]?.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await ask(port)).toMatch(/^HTTP\/1.1 200/);
  });

  it('reads the soft open-file limit from /proc', () => {
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';
    expect(openFileLimit(() => limits)).toBe(20000);
    expect(openFileLimit(() => limits.replace('20000   ', 'unlimited'))).toBeUndefined();
    expect(
      openFileLimit(() => {
        throw new Error('no /proc');
      }),
    ).toBeUndefined();
    if (process.platform === 'linux') expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('keeps descriptors for the rest of the process and for each listener’s own sockets', () => {
    expect(connectionBudget(20_000, 1)).toBe(19_500);
    expect(connectionBudget(20_000, 2, 256)).toBe(9494);
    expect(connectionBudget(1024, 1)).toBe(896);
    expect(connectionBudget(10, 4, 3)).toBe(16);
  });
});
