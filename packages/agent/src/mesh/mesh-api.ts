import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { bearerChecker } from './mesh-api-auth.ts';
import { meshOpenApi } from './mesh-api-openapi.ts';
import type { MeshTls } from './tls.ts';
import { servesTls } from './tls.ts';

// The API port, in canary-bot's shapes: samples and nodes as JSON and Prometheus metrics, all behind a
// bearer token; the OpenAPI document and `/` (a liveness answer) are open.

/** One measurement as canary-bot served it: `value` is nanoseconds as a decimal string, or "NaN". */
export interface ApiSample {
  from: string;
  to: string;
  /** rtt_total and rtt_request as canary-bot; dns, connect, tls, request: one phase each. */
  type: string;
  value: string;
  /** RFC 3339: the end of the minute the value summarises. */
  ts: string;
  /** Probes and failed probes behind the value (Flotilla's additions). */
  count?: number;
  failed?: number;
  p99?: string;
}

/** Most samples in one answer; past it the answer says `truncated: true`. */
export const MAX_SAMPLES = 100_000;

export interface MeshApiOptions {
  listenAddress: string;
  port: number;
  tls?: MeshTls;
  tokens: readonly string[];
  name: string;
  /** Other nodes' names (own name is put first by the API). */
  nodes: () => string[];
  samples: () => ApiSample[];
  metrics: () => Promise<string>;
}

export interface MeshApi {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value));
const error = (
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) => {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  json(res, status, { error: { code, message } });
};

export async function startMeshApi(options: MeshApiOptions): Promise<MeshApi> {
  const authorized = bearerChecker(options.tokens);
  const openapi = JSON.stringify(meshOpenApi());
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    // Bodies are never read here: a request that sends one is answered and its connection closed.
    if (req.headers['content-length'] && req.headers['content-length'] !== '0') res.setHeader('connection', 'close');
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'method_not_allowed', 'only GET');
    if (path === '/api/v1/openapi.json') return send(res, 200, openapi);
    if (path === '/') return json(res, 200, { name: options.name, openapi: '/api/v1/openapi.json' });
    const protectedPath = path === '/api/v1/samples' || path === '/api/v1/nodes' || path === '/metrics';
    if (!protectedPath) return error(res, 404, 'not_found', `no route ${path}`);
    if (!authorized(req.headers.authorization)) {
      return error(res, 401, 'unauthorized', 'a valid token is required (Authorization: Bearer …)', {
        'www-authenticate': 'Bearer',
      });
    }
    if (path === '/api/v1/nodes') return json(res, 200, { nodes: [options.name, ...options.nodes()] });
    if (path === '/metrics') return send(res, 200, await options.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
    const samples = options.samples();
    return json(
      res,
      200,
      samples.length > MAX_SAMPLES ? { samples: samples.slice(0, MAX_SAMPLES), truncated: true } : { samples },
    );
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => error(res, 500, 'internal', 'internal error'));
  };
  const tls = options.tls;
  // The API is for scrapers and people: server TLS when the node has a certificate, no client certificate.
  const server = servesTls(tls)
    ? https.createServer({ cert: tls.cert, key: tls.key }, listener)
    : http.createServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.listenAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
