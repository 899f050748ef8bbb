// The agent's HTTP client on node:http(s). Global fetch() loads undici (+16 MB RSS measured), and so does
// a static ESM import of node:http (its exports are enumerated); process.getBuiltinModule costs ~3 MB.
import { createReadStream, fstatSync, openSync } from 'node:fs';
import type * as Http from 'node:http';
import type * as Https from 'node:https';

/** Bytes a buffered response body may have unless the caller says otherwise. */
export const defaultMaxBodyBytes = 8 * 1024 * 1024;
/** Few sockets per server; idle ones close soon, so an idle agent holds only its long-poll. */
const poolOptions = { keepAlive: true, maxSockets: 4, maxFreeSockets: 2, timeout: 4_000, scheduling: 'lifo' } as const;
const redirects = new Set([301, 302, 303, 307, 308]);

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as is, with its content-length. */
  body?: string | Uint8Array;
  /** Sent as JSON (content-type application/json). */
  json?: unknown;
  /** A file streamed as the body, with its content-length. */
  file?: string;
  signal?: AbortSignal;
  /** The whole exchange, until the body is read (none when absent). */
  timeoutMs?: number;
  /** Fails when the connection carries nothing for this long (none when absent). */
  idleTimeoutMs?: number;
  /** Redirects followed for GET (default 0: a redirect is the answer). */
  maxRedirects?: number;
}

/** No answer in time: `name` and `code` read like a fetch timeout and a socket timeout. */
export class HttpTimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** A response body larger than the caller accepts; nothing of it is kept. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  readonly code = 'ERESPONSETOOLARGE';
}

export class HttpResponse {
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: Http.IncomingHttpHeaders;
  readonly #res: Http.IncomingMessage;

  constructor(url: string, res: Http.IncomingMessage) {
    this.url = url;
    this.#res = res;
    this.status = res.statusCode ?? 0;
    this.statusText = res.statusMessage ?? '';
    this.headers = res.headers;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  header(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** The body as it arrives; a timeout, an abort or a cut connection ends the iteration with an error. */
  body(): AsyncIterable<Buffer> {
    return this.#res;
  }

  async bytes(maxBytes = defaultMaxBodyBytes): Promise<Buffer> {
    const tooLarge = () => {
      this.#res.destroy();
      return new ResponseTooLargeError(`the response from ${this.url} is larger than ${maxBytes} bytes`);
    };
    if (Number(this.header('content-length')) > maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.#res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  }

  async text(maxBytes = defaultMaxBodyBytes): Promise<string> {
    return (await this.bytes(maxBytes)).toString('utf8');
  }

  async json<T = unknown>(maxBytes = defaultMaxBodyBytes): Promise<T> {
    const text = await this.text(maxBytes);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SyntaxError(`the response from ${this.url} is not JSON: ${text.slice(0, 100)}`);
    }
  }

  /**
   * Drops the body: a small or complete one is read to its end, which hands the connection back to the
   * pool (an unread body holds it, however short); a large or unknown one closes the connection.
   */
  discard(): void {
    if (this.#res.destroyed || this.#res.readableEnded) return;
    const length = Number(this.header('content-length'));
    if (this.#res.complete || (Number.isFinite(length) && length <= 64 * 1024)) this.#res.resume();
    else this.#res.destroy();
  }
}

type Transport = { request: typeof Http.request; agent: Http.Agent };
const transports = new Map<string, Transport>();

/** node:https (and its TLS, ~6 MB more) is loaded only when a server URL is https. */
function transportOf(protocol: string): Transport {
  let transport = transports.get(protocol);
  if (transport) return transport;
  if (protocol === 'http:') {
    const http = process.getBuiltinModule('node:http') as typeof Http;
    transport = { request: http.request, agent: new http.Agent(poolOptions) };
  } else if (protocol === 'https:') {
    // Same trust as fetch: Node's CA store (NODE_EXTRA_CA_CERTS and --use-system-ca apply).
    const https = process.getBuiltinModule('node:https') as typeof Https;
    transport = { request: https.request as typeof Http.request, agent: new https.Agent(poolOptions) };
  } else {
    throw new TypeError(`unsupported URL protocol ${protocol} (use http: or https:)`);
  }
  transports.set(protocol, transport);
  return transport;
}

/**
 * Sends one request and resolves once the status and headers are in. The timeout and the signal keep
 * running until the body is read or dropped; an abort rejects with the signal's reason, as fetch does.
 */
export async function httpRequest(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  let target = new URL(url);
  let current = options;
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  for (let hops = 0; ; hops++) {
    const res = await attempt(target, current, deadline, true);
    const location = res.header('location');
    const method = options.method ?? 'GET';
    if (!redirects.has(res.status) || !location || method !== 'GET' || hops >= (options.maxRedirects ?? 0)) return res;
    res.discard();
    const next = new URL(location, target);
    // Credentials never follow a redirect to another origin (as with fetch).
    if (next.origin !== target.origin) current = { ...current, headers: withoutCredentials(current.headers) };
    target = next;
  }
}

function withoutCredentials(headers: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase())),
  );
}

function attempt(target: URL, options: HttpRequestOptions, deadline: number | undefined, retry: boolean) {
  const { signal } = options;
  signal?.throwIfAborted();
  const { request, agent } = transportOf(target.protocol);
  const headers: Record<string, string | number> = { ...options.headers };
  let body: string | Uint8Array | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  let fd: number | undefined;
  if (options.file !== undefined) {
    fd = openSync(options.file, 'r');
    headers['content-length'] = fstatSync(fd).size;
  } else if (body !== undefined) {
    headers['content-length'] = Buffer.byteLength(body);
  }
  const method = options.method ?? 'GET';
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = request(target, { method, headers, agent });
    let res: Http.IncomingMessage | undefined;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      cleanup();
      req.destroy(err);
      res?.destroy(err);
      reject(err);
    };
    const onAbort = () => fail(signal?.reason ?? new DOMException('aborted', 'AbortError'));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline !== undefined) {
      const ms = Math.max(0, deadline - Date.now());
      const s = (options.timeoutMs ?? 0) / 1000;
      timer = setTimeout(() => fail(new HttpTimeoutError(`no answer from ${target.origin} within ${s} s`)), ms);
      timer.unref();
    }
    if (options.idleTimeoutMs !== undefined) {
      const s = options.idleTimeoutMs / 1000;
      req.setTimeout(options.idleTimeoutMs, () =>
        fail(new HttpTimeoutError(`${target.origin} sent nothing for ${s} s`)),
      );
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed meanwhile: a GET is safe to send once more.
      if (retry && !res && req.reusedSocket && method === 'GET' && err.code === 'ECONNRESET') {
        cleanup();
        Promise.resolve()
          .then(() => attempt(target, options, deadline, false))
          .then(resolve, reject);
      } else fail(err);
    });
    req.once('response', (response) => {
      res = response;
      response.once('close', cleanup);
      // Readers see errors through the body; unread, a failed body must not become an uncaught error.
      response.on('error', () => {});
      resolve(new HttpResponse(target.href, response));
    });
    if (fd !== undefined) {
      const file = createReadStream('', { fd });
      file.once('error', fail);
      req.once('close', () => file.destroy());
      file.pipe(req);
    } else req.end(body);
  });
}
