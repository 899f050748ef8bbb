import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const fixturesDir = new URL('../../../test/fixtures/drift/', import.meta.url);

export function readFixture(name: string): string {
  return readFileSync(new URL(name, fixturesDir), 'utf8');
}

/** One recorded GitHub exchange as octokit/fixtures writes it. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  response: unknown;
  headers: Record<string, string | number>;
}

export function githubExchanges(name: string): Exchange[] {
  return JSON.parse(readFixture(`github/${name}.json`)) as Exchange[];
}

export interface Answer {
  status?: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => Answer | undefined;

/** A local upstream on 127.0.0.1: answers by path (with query), counts requests, keeps their headers. */
export class FakeUpstream {
  readonly requests: { path: string; headers: IncomingMessage['headers'] }[] = [];
  readonly #routes = new Map<string, Handler>();
  readonly #server = createServer((request, response) => this.#handle(request, response));
  origin = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  route(path: string, handler: Handler): void {
    this.#routes.set(path, handler);
  }

  /** Serves a fixed answer, replying 304 when the request's If-None-Match is the answer's ETag. */
  answer(path: string, answer: Answer): void {
    this.route(path, (request) => {
      const etag = answer.headers?.etag;
      if (etag !== undefined && request.headers['if-none-match'] === String(etag)) {
        return { status: 304, headers: pick(answer.headers ?? {}, ['etag', 'last-modified', 'x-ratelimit-remaining']) };
      }
      return answer;
    });
  }

  /** Serves a recorded GitHub exchange: its status, headers (links moved to this server) and body. */
  exchange(exchange: Exchange, path = exchange.path): void {
    const headers: Record<string, string | number> = {};
    for (const [name, value] of Object.entries(exchange.headers)) {
      if (['content-length', 'connection', 'transfer-encoding'].includes(name)) continue;
      headers[name] = name === 'link' ? String(value).replaceAll('https://api.github.com', this.origin) : value;
    }
    const body = exchange.response === '' ? '' : JSON.stringify(exchange.response);
    this.answer(path, { status: exchange.status, headers, body });
  }

  count(path: string): number {
    return this.requests.filter((request) => request.path === path).length;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? '/';
    this.requests.push({ path, headers: request.headers });
    const handler = this.#routes.get(path);
    if (!handler) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    // A handler that returns nothing answers (or stalls) by itself.
    const answer = handler(request, response);
    if (answer === undefined) return;
    response.writeHead(answer.status ?? 200, answer.headers as Record<string, string>);
    response.end(answer.body ?? '');
  }
}

function pick(headers: Record<string, string | number>, names: string[]): Record<string, string | number> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => names.includes(name)));
}
