import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerClientError } from './client-error.ts';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** What a client reads when the server answers its connection with `answerClientError(err)`. */
async function answerFor(code: string): Promise<string> {
  const server = createServer((socket: Socket) => answerClientError(Object.assign(new Error(code), { code }), socket));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  let text = '';
  client.setEncoding('utf8');
  client.on('data', (chunk: string) => {
    text += chunk;
  });
  await once(client, 'end');
  client.destroy();
  return text;
}

describe('answerClientError', () => {
  it.each([
    ['ERR_HTTP_REQUEST_TIMEOUT', '408 Request Timeout', 'timeout'],
    ['HPE_HEADER_OVERFLOW', '431 Request Header Fields Too Large', 'headers_too_large'],
    ['HPE_INVALID_METHOD', '400 Bad Request', 'invalid'],
  ])('answers %s with %s in the error format, and closes', async (errCode, statusLine, code) => {
    const text = await answerFor(errCode);
    const [head, body] = text.split('\r\n\r\n');
    expect(head?.split('\r\n')[0]).toBe(`HTTP/1.1 ${statusLine}`);
    expect(head).toContain('connection: close');
    expect(head).toContain(`content-length: ${Buffer.byteLength(body ?? '')}`);
    expect(JSON.parse(body ?? '')).toEqual({ error: { code, message: expect.any(String) } });
  });
});
