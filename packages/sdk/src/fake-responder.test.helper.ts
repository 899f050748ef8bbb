import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Reply = (request: ReceivedRequest, response: ServerResponse) => void;

export interface FakeResponder {
  /** `http://127.0.0.1:<port>`, without a path. */
  readonly baseUrl: string;
  readonly requests: ReceivedRequest[];
  /** Requests whose connection closed before an answer was sent. */
  readonly abandoned: ReceivedRequest[];
  reply: Reply;
  close(): Promise<void>;
}

/** A real HTTP server on a free loopback port that records each request and answers with `reply`. */
export async function startFakeResponder(reply: Reply): Promise<FakeResponder> {
  const requests: ReceivedRequest[] = [];
  const abandoned: ReceivedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      response.on('close', () => {
        if (!response.writableFinished) abandoned.push(received);
      });
      responder.reply(received, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const responder: FakeResponder = {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    abandoned,
    reply,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return responder;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** A leaves-the-request-hanging reply, for timeouts and aborts. */
export function neverAnswer(): void {}
