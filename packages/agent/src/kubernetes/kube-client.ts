// The few Kubernetes API calls the drift agent makes, on node:http(s): a list page (parsed and shrunk
// at once), a watch read line by line from the chunked stream, a GET and a PUT. Errors carry the HTTP
// status as `code` and the API's Status object as `body`, as describeKubeError reads them.
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import type { KubeConfig } from './kube-config.ts';

/** The parts of an API object the agent reads everywhere; the rest is kind-specific. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ListPage {
  resourceVersion: string;
  continue: string | undefined;
  items: KubernetesObject[];
}

export type WatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: KubernetesObject };

/** An answer of the API server other than 2xx. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown, what: string) {
    const message = (body as { message?: unknown } | null)?.message;
    super(`${what}: HTTP ${code}${typeof message === 'string' ? `: ${message}` : ''}`);
    this.code = code;
    this.body = body;
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** A whole list page of pods (500) is a few MB; anything near this is not an API server answer. */
const maxBodyBytes = 64 * 1024 * 1024;
/** One watch event is one object. */
const maxLineBytes = 16 * 1024 * 1024;
const requestTimeoutMs = 60_000;

export interface KubeClient {
  list(path: string, query: Query, shrink?: (o: KubernetesObject) => KubernetesObject): Promise<ListPage>;
  get(path: string): Promise<KubernetesObject>;
  put(path: string, body: unknown): Promise<KubernetesObject>;
  /** Streams events until the server ends the watch (resolves) or it fails or is aborted (rejects). */
  watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

const clients = new WeakMap<KubeConfig, KubeClient>();
/** One client (and connection pool) per config. */
export function kubeClient(config: KubeConfig): KubeClient {
  let client = clients.get(config);
  if (!client) {
    client = createClient(config);
    clients.set(config, client);
  }
  return client;
}

function createClient(config: KubeConfig): KubeClient {
  const url = new URL(config.server);
  const secure = url.protocol === 'https:';
  const module = process.getBuiltinModule(secure ? 'node:https' : 'node:http') as typeof Https | typeof Http;
  // One socket per open watch plus a few for lists and writes; idle ones close soon.
  const agent = new module.Agent({ keepAlive: true, maxFreeSockets: 2, timeout: 30_000 });

  async function send(
    method: string,
    path: string,
    query: Query,
    body: unknown,
    signal: AbortSignal | undefined,
    idleMs: number,
  ): Promise<Http.IncomingMessage> {
    const target = new URL(config.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) target.searchParams.set(k, String(v));
    const credentials = await config.credentials();
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (credentials.authorization) headers.authorization = credentials.authorization;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const tls = secure
      ? {
          ...(config.ca ? { ca: config.ca } : {}),
          ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
          rejectUnauthorized: config.rejectUnauthorized,
          ...(config.servername ? { servername: config.servername } : {}),
        }
      : {};
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const req = module.request(target, { method, headers, agent, ...tls, ...(signal ? { signal } : {}) });
      req.setTimeout(idleMs, () =>
        req.destroy(new Error(`${method} ${path}: the API server sent nothing for ${idleMs / 1000} s`)),
      );
      req.once('error', reject);
      req.once('response', (res) => {
        res.once('error', () => {});
        if (res.statusCode === 401) config.invalidate();
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) return resolve(res);
        readBody(res, 1024 * 1024)
          .then((text) => {
            let status: unknown = text;
            try {
              status = JSON.parse(text);
            } catch {}
            reject(new KubeApiError(res.statusCode ?? 0, status, `${method} ${path}`));
          })
          .catch(reject);
      });
      req.end(payload);
    });
  }

  async function json(method: string, path: string, query: Query, body?: unknown): Promise<unknown> {
    const signal = AbortSignal.timeout(requestTimeoutMs);
    const res = await send(method, path, query, body, signal, requestTimeoutMs);
    return JSON.parse(await readBody(res, maxBodyBytes));
  }

  return {
    async list(path, query, shrink) {
      const page = (await json('GET', path, query)) as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: KubernetesObject[] | null;
      };
      const items = page.items ?? [];
      return {
        resourceVersion: page.metadata?.resourceVersion ?? '',
        continue: page.metadata?.continue || undefined,
        items: shrink ? items.map(shrink) : items,
      };
    },
    get: async (path) => (await json('GET', path, {})) as KubernetesObject,
    put: async (path, body) => (await json('PUT', path, {}, body)) as KubernetesObject,
    async watch(path, query, onEvent, signal) {
      // The server ends the watch after timeoutSeconds; silence well past that is a dead connection.
      const idleMs = (Number(query.timeoutSeconds ?? 300) + 60) * 1000;
      const res = await send('GET', path, { ...query, watch: 'true' }, undefined, signal, idleMs);
      res.setEncoding('utf8');
      let buffered = '';
      for await (const chunk of res as AsyncIterable<string>) {
        buffered += chunk;
        let start = 0;
        for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n', start)) {
          const line = buffered.slice(start, newline).trim();
          start = newline + 1;
          if (line !== '') onEvent(JSON.parse(line) as WatchEvent);
        }
        buffered = buffered.slice(start);
        if (buffered.length > maxLineBytes) {
          res.destroy();
          throw new Error(`GET ${path}: a watch event is longer than ${maxLineBytes} bytes`);
        }
      }
      if (buffered.trim() !== '') onEvent(JSON.parse(buffered) as WatchEvent);
    },
  };
}

async function readBody(res: Http.IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.destroy();
      throw new Error(`the API server's answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
