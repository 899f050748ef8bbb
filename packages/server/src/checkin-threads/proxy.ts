import { Agent, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { drainThenClose } from '../http/request-body.ts';
import { appendForwardedFor } from './client-address.ts';

// Per-connection headers are the proxy's own business on each side (RFC 9110, section 7.6.1).
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** Headers to pass on: not the hop-by-hop ones, nor any that `Connection` names as such. */
function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = (headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name) && !named.includes(name)) out[name] = value;
  }
  return out;
}

/** Sockets a thread may open to the main thread at once; each costs the process two descriptors. */
export const PASS_THROUGH_SOCKETS = 128;

/**
 * Passes a request that is not a check-in to the main thread over its private socket, streaming both
 * ways (log follows and agent long polls stay live). The peer address travels as the last hop of
 * `X-Forwarded-For`; the main thread trusts that hop because only this socket's owner can connect.
 * `X-Forwarded-Proto` and `-Host` pass only from a trusted proxy, as Fastify alone would have it.
 */
export function createProxy(socketPath: string, trusted: ((address: string) => boolean) | null) {
  // Bounded, so a flood of requests queues here instead of taking every descriptor of the process.
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 64, maxSockets: PASS_THROUGH_SOCKETS });
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const peer = req.socket.remoteAddress;
    if (!peer) {
      req.destroy();
      return;
    }
    const headers = forwardable(req.headers);
    headers['x-forwarded-for'] = appendForwardedFor(req.headers['x-forwarded-for'], peer);
    if (!trusted?.(peer)) {
      delete headers['x-forwarded-proto'];
      delete headers['x-forwarded-host'];
    }
    // Keep the body's framing: a chunked body sent on as raw bytes would be read as further requests.
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
    const upstream = request({ socketPath, agent, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      answer.pipe(res);
      answer.once('error', () => {
        if (!res.writableFinished) res.destroy();
      });
    });
    upstream.once('error', () => {
      if (res.headersSent) {
        if (!res.writableFinished) res.destroy();
      } else {
        sendJson(res, 503, {
          error: { code: 'unavailable', message: 'the server is not answering; try again shortly' },
        });
      }
    });
    // A client that goes away takes its upstream request with it, so follows and long polls end too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Answered before the body was all here (413, 401): the rest is discarded here, not passed on.
    res.once('finish', () => {
      if (req.complete) return;
      req.unpipe(upstream);
      upstream.destroy();
      drainThenClose(req);
    });
    req.pipe(upstream);
  };
  return { forward, close: () => agent.destroy() };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
