import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import type { MeshMessage, SendMessage } from './contracts.ts';
import { bearerChecker } from './mesh-api-auth.ts';
import { clientTlsOptions, type MeshTls, serverTlsOptions, servesTls } from './tls.ts';
import { InvalidMessage, parseMeshMessage } from './transport-validate.ts';

// The mesh port: one-way JSON messages as POST /mesh/v1/messages (202, no body), plus the probe's echo
// path. Sending never queues without bound: past a cap of requests in flight a message is dropped,
// which the protocol already treats as loss.

export const MESSAGES_PATH = '/mesh/v1/messages';
/** Largest message body accepted; a join reply carries the member list, so this is above one probe's size. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
const SEND_TIMEOUT_MS = 3000;
/** A membership connection idle this long is closed: a TLS connection held open costs about 55 KB, and
 *  with one ping per round a peer's connection would sit idle for a whole pass over the mesh. */
export const IDLE_CONNECTION_MS = 2000;
const MAX_IN_FLIGHT = 1024;
const MAX_IN_FLIGHT_PER_PEER = 32;
/** Most addresses remembered as unreachable (oldest forgotten first). */
const MAX_UNREACHABLE = 10_000;

export type DropReason = 'malformed' | 'too_large' | 'unauthorized' | 'send_overflow' | 'send_failed';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TransportOptions {
  listenAddress: string;
  listenPort: number;
  tls?: MeshTls;
  /** When not empty, every request on the mesh port needs one of them, and sends carry the first. */
  tokens: readonly string[];
  onMessage: (message: MeshMessage) => void;
  /** More GET/POST paths on the mesh port (the probe's echo), behind the same authentication. */
  routes?: Record<string, RouteHandler>;
  onDrop?: (reason: DropReason) => void;
  /** A peer address became unreachable (with the reason) or reachable again: once per change, not per send. */
  onReachability?: (address: string, reachable: boolean, reason?: string) => void;
  debug?: (message: string) => void;
  /** Fleet mode: a check of the client's certificate beyond the CA chain (throws to refuse, answered 403). */
  verifyClient?: (socket: TLSSocket) => void;
  /** Fleet mode: replaces the host-name check of the peers dialled (mesh certificates name instances). */
  checkServerIdentity?: (host: string, cert: { raw: Buffer }) => Error | undefined;
}

export interface MeshTransport {
  send: SendMessage;
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Swaps in new TLS material (a renewed certificate) for new connections, without closing the port. */
  setTls(tls: MeshTls): void;
  /** Stops accepting, waits (bounded) for sends in flight, closes every connection. */
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, code?: string, message?: string): void {
  if (res.headersSent) return;
  const body = code ? JSON.stringify({ error: { code, message } }) : '';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The body as text, or undefined once it passes `limit` (the connection is then closed after the answer). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One secure context for every connection the client opens (given raw PEMs, each would build its own). */
function clientContext(tls: MeshTls) {
  const { rejectUnauthorized, ...material } = clientTlsOptions(tls);
  return { secureContext: createSecureContext(material), rejectUnauthorized };
}

export async function startTransport(options: TransportOptions): Promise<MeshTransport> {
  const authorized = bearerChecker(options.tokens);
  const needsToken = options.tokens.length > 0;
  const drop = (reason: DropReason) => options.onDrop?.(reason);

  // A connection's client certificate is checked once, on its first request.
  const verified = new WeakMap<object, boolean>();
  const clientAllowed = (req: IncomingMessage): boolean => {
    const check = options.verifyClient;
    if (!check) return true;
    let ok = verified.get(req.socket);
    if (ok === undefined) {
      try {
        check(req.socket as TLSSocket);
        ok = true;
      } catch (error) {
        ok = false;
        options.debug?.(`refused a client: ${(error as Error).message}`);
      }
      verified.set(req.socket, ok);
    }
    return ok;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!clientAllowed(req)) {
      drop('unauthorized');
      res.setHeader('connection', 'close');
      return reply(res, 403, 'forbidden', 'the client certificate is not of this mesh');
    }
    if (needsToken && !authorized(req.headers.authorization)) {
      drop('unauthorized');
      return reply(res, 401, 'unauthorized', 'a mesh token is required (Authorization: Bearer …)');
    }
    const route = options.routes?.[path];
    if (route) return route(req, res);
    if (path !== MESSAGES_PATH) return reply(res, 404, 'not_found', `no route ${path}`);
    if (req.method !== 'POST') return reply(res, 405, 'method_not_allowed', 'POST a message');
    const text = await readBody(req, MAX_MESSAGE_BYTES);
    if (text === undefined) {
      drop('too_large');
      res.setHeader('connection', 'close');
      return reply(res, 413, 'too_large', `a message is at most ${MAX_MESSAGE_BYTES} bytes`);
    }
    let message: MeshMessage;
    try {
      message = parseMeshMessage(JSON.parse(text));
    } catch (error) {
      drop('malformed');
      const detail = error instanceof InvalidMessage ? error.message : 'not JSON';
      options.debug?.(`dropped a malformed message: ${detail}`);
      return reply(res, 400, 'invalid', `malformed message: ${detail}`);
    }
    reply(res, 202);
    options.onMessage(message);
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => reply(res, 500, 'internal', 'internal error'));
  };
  const tls = options.tls;
  const server = servesTls(tls) ? https.createServer(serverTlsOptions(tls), listener) : http.createServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const secure = tls !== undefined;
  const makeAgent = (material: MeshTls | undefined) =>
    material !== undefined
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 4,
          maxFreeSockets: 2,
          timeout: IDLE_CONNECTION_MS,
          ...clientContext(material),
          ...(options.checkServerIdentity ? { checkServerIdentity: options.checkServerIdentity } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 4, maxFreeSockets: 2, timeout: IDLE_CONNECTION_MS });
  let agent = makeAgent(tls);
  const retired = new Set<http.Agent>();
  const request = secure ? https.request : http.request;
  const authorization = needsToken ? `Bearer ${options.tokens[0]}` : undefined;
  const inFlight = new Map<string, number>();
  let total = 0;
  const pending = new Set<() => void>();
  const unreachable = new Set<string>();
  const reached = (address: string, ok: boolean, reason?: string) => {
    if (ok === !unreachable.has(address)) return;
    if (ok) unreachable.delete(address);
    else {
      unreachable.add(address);
      if (unreachable.size > MAX_UNREACHABLE) unreachable.delete(unreachable.values().next().value as string);
    }
    options.onReachability?.(address, ok, reason);
  };

  const send: SendMessage = (address, message) => {
    const mine = inFlight.get(address) ?? 0;
    if (total >= MAX_IN_FLIGHT || mine >= MAX_IN_FLIGHT_PER_PEER) return drop('send_overflow');
    const body = JSON.stringify(message);
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) return drop('too_large');
    let url: URL;
    try {
      url = new URL(`${secure ? 'https' : 'http'}://${address}${MESSAGES_PATH}`);
    } catch {
      return drop('send_failed');
    }
    inFlight.set(address, mine + 1);
    total++;
    let finished = false;
    const done = (failed: boolean) => {
      if (finished) return;
      finished = true;
      total--;
      const left = (inFlight.get(address) ?? 1) - 1;
      if (left === 0) inFlight.delete(address);
      else inFlight.set(address, left);
      pending.delete(abort);
      if (failed) drop('send_failed');
    };
    const req = request(url, {
      method: 'POST',
      agent,
      timeout: SEND_TIMEOUT_MS,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(authorization ? { authorization } : {}),
      },
    });
    const abort = () => req.destroy(new Error('closing'));
    pending.add(abort);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => {
      options.debug?.(`send ${message.kind} to ${address}: ${error.message}`);
      if (error.message !== 'closing') reached(address, false, (error as NodeJS.ErrnoException).code ?? error.message);
      done(true);
    });
    req.on('response', (res) => {
      res.resume();
      reached(address, res.statusCode === 202, `HTTP ${res.statusCode}`);
      res.on('end', () => done(res.statusCode !== 202));
      res.on('error', () => done(true));
    });
    req.end(body);
  };

  const close = async () => {
    // Give messages already sent (a `left` announcement) a moment to arrive, then cut the rest.
    const deadline = Date.now() + 1500;
    while (total > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const abort of [...pending]) abort();
    agent.destroy();
    for (const old of retired) old.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };
  const setTls = (material: MeshTls) => {
    if (!secure || !servesTls(material)) throw new TypeError('setTls: the transport was started without TLS');
    (server as https.Server).setSecureContext(serverTlsOptions(material));
    // Sends in flight finish on the old agent's connections; new ones present the new certificate.
    const old = agent;
    retired.add(old);
    agent = makeAgent(material);
    setTimeout(() => {
      retired.delete(old);
      old.destroy();
    }, SEND_TIMEOUT_MS + 500).unref();
  };
  return { send, port: (server.address() as AddressInfo).port, setTls, close };
}
