import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { MessagePort } from 'node:worker_threads';
import { isUntrustedForward, rateLimitKey } from '../checkin/forwarded.ts';
import { unstoredHeader } from '../checkin/writer.ts';
import { answerClientError } from '../http/client-error.ts';
import { LISTEN_BACKLOG, limitConnections } from '../http/connection-limit.ts';
import { closeGracefully } from '../http/graceful-close.ts';
import { drainThenClose } from '../http/request-body.ts';
import { compileTrustedProxies } from '../http/trusted-proxies.ts';
import { clientAddress } from './client-address.ts';
import { HttpSamples } from './http-samples.ts';
import type {
  CheckinBatch,
  CheckinFailure,
  CheckinResult,
  CheckinUnstored,
  RouteAnswer,
  ThreadInit,
  ToMain,
  ToThread,
} from './messages.ts';
import { createProxy, sendJson } from './proxy.ts';
import { createThreadPolls } from './thread-polls.ts';

interface CheckinRoute {
  route: string;
  app: string | null;
}

/** The path as the main thread's router sees it: no query string, no trailing slash. */
function routePath(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Matches the two check-in routes as the main thread's router does (trailing slash, query string). */
function checkinRoute(req: IncomingMessage, defaultApp: string | null): CheckinRoute | null {
  if (req.method !== 'POST') return null;
  const path = routePath(req.url ?? '');
  if (path === '/v1/checkupgrade') return { route: path, app: defaultApp };
  const m = /^\/v1\/apps\/([^/]+)\/checkupgrade$/.exec(path);
  if (!m) return null;
  let app: string;
  try {
    app = decodeURIComponent(m[1] as string);
  } catch {
    return null;
  }
  return { route: '/v1/apps/:app/checkupgrade', app };
}

interface ThreadRouteMatch {
  path: string;
  bodyLimit: number;
  authorization: string;
}

const jsonType = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

/**
 * A request for a thread route that this thread reads itself: a bearer credential and a plain JSON body
 * within the limit. Anything Fastify answers in its own way (a session cookie, another body type, a
 * compressed or oversized body, `Expect`) is passed on as usual.
 */
function threadRoute(req: IncomingMessage, limits: ReadonlyMap<string, number>): ThreadRouteMatch | null {
  if (req.method !== 'POST' || limits.size === 0) return null;
  const path = routePath(req.url ?? '');
  const bodyLimit = limits.get(path);
  const authorization = req.headers.authorization;
  if (bodyLimit === undefined || !authorization || !/^bearer\s/i.test(authorization)) return null;
  if (!jsonType.test(req.headers['content-type'] ?? '')) return null;
  if (req.headers['content-encoding'] !== undefined || req.headers.expect !== undefined) return null;
  if (Number(req.headers['content-length']) > bodyLimit) return null;
  return { path, bodyLimit, authorization };
}

/**
 * Reads a whole body of at most `limit` bytes. Past it, the rest is read and discarded (at most 10 s)
 * before `tooLarge` answers: closing with unread input would reset the connection and lose the 413.
 */
function readBody(req: IncomingMessage, limit: number, tooLarge: () => void, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      drainThenClose(req);
      tooLarge();
    } else chunks.push(chunk);
  });
  req.on('end', () =>
    done(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')),
  );
}

/**
 * A check-in thread: it owns a share of the public connections (SO_REUSEPORT), reads check-ins
 * and sends them to the main thread in one message per event-loop turn, and answers each once the
 * main thread says it is durable (or why not). Every other request is passed on to the main thread.
 */
export function startFront(init: ThreadInit, port: MessagePort): Server {
  const trusted = init.trustedProxies.length > 0 ? compileTrustedProxies(init.trustedProxies) : null;
  const proxy = createProxy(init.upstreamSocket, trusted);
  const samples = new HttpSamples();
  const post = (message: ToMain) => port.postMessage(message);
  const waiting = new Map<number, Array<(result: CheckinResult) => void>>();
  const emptyBatch = (): CheckinBatch => ({ apps: [], clientIps: [], rateKeys: [], bodies: [], untrustedForwarded: 0 });
  let outgoing = emptyBatch();
  let replies: Array<(result: CheckinResult) => void> = [];
  let seq = 0;
  let closing = false;
  const routeLimits = new Map(init.threadRoutes.map((r) => [r.path, r.bodyLimit]));
  const polls = createThreadPolls(init.pollRoutes, post, samples);
  const waitingAnswers = new Map<number, Array<(answer: RouteAnswer) => void>>();
  const emptyRequests = () => ({ paths: [] as string[], authorizations: [] as string[], bodies: [] as string[] });
  let requests = emptyRequests();
  let requestReplies: Array<(answer: RouteAnswer) => void> = [];
  const flushRequests = () => {
    seq += 1;
    waitingAnswers.set(seq, requestReplies);
    post({ type: 'requests', seq, ...requests });
    requests = emptyRequests();
    requestReplies = [];
  };

  const flush = () => {
    seq += 1;
    waiting.set(seq, replies);
    post({ type: 'checkins', seq, ...outgoing });
    outgoing = emptyBatch();
    replies = [];
  };
  const submit = (
    app: string,
    clientIp: string,
    rateKey: string,
    untrusted: boolean,
    body: string,
    reply: (result: CheckinResult) => void,
  ) => {
    if (replies.length === 0) setImmediate(flush);
    outgoing.apps.push(app);
    outgoing.clientIps.push(clientIp);
    outgoing.rateKeys.push(rateKey === clientIp ? '' : rateKey);
    outgoing.bodies.push(body);
    if (untrusted) outgoing.untrustedForwarded += 1;
    replies.push(reply);
  };
  port.on('message', (message: ToThread) => {
    if (message.type === 'results') {
      const pending = waiting.get(message.seq) ?? [];
      waiting.delete(message.seq);
      for (let i = 0; i < pending.length; i++) {
        const result = message.results[i] as number | CheckinUnstored | CheckinFailure;
        pending[i]?.(typeof result === 'number' ? (message.answers[result] as string) : result);
      }
    } else if (message.type === 'answers') {
      const pending = waitingAnswers.get(message.seq) ?? [];
      waitingAnswers.delete(message.seq);
      for (const [i, answer] of message.answers.entries()) pending[i]?.(answer);
    } else if (message.type === 'poll-answers') polls.onAnswers(message);
    else if (message.type === 'flush-metrics') {
      post({ type: 'http-metrics', samples: samples.drain(), flushId: message.flushId });
    } else if (message.type === 'close') void close(message.graceMs);
  });

  const answer = (res: ServerResponse, route: string, started: number, result: CheckinResult) => {
    if (typeof result === 'string') {
      res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(result))]);
      res.end(result);
    } else if ('unstored' in result) {
      const length = String(Buffer.byteLength(result.body));
      res.writeHead(200, [
        'content-type',
        'application/json',
        'content-length',
        length,
        unstoredHeader,
        result.unstored,
      ]);
      res.end(result.body);
    } else {
      sendJson(res, result.status, { error: { code: result.code, message: result.message } }, result.headers);
    }
    samples.add(route, res.statusCode, (performance.now() - started) / 1000);
  };
  const fail = (res: ServerResponse, route: string, started: number, status: number, code: string, message: string) =>
    answer(res, route, started, { status, code, message, headers: {} });

  const tooLargeMessage = 'the request body is larger than the limit for this route';
  const handleCheckin = (req: IncomingMessage, res: ServerResponse, target: CheckinRoute) => {
    const started = performance.now();
    if (closing) {
      res.setHeader('connection', 'close');
      return fail(res, target.route, started, 503, 'unavailable', 'the server is shutting down');
    }
    const tooLarge = () => fail(res, target.route, started, 413, 'payload_too_large', tooLargeMessage);
    if (Number(req.headers['content-length']) > init.bodyLimit) {
      drainThenClose(req);
      return tooLarge();
    }
    readBody(req, init.bodyLimit, tooLarge, (body) => {
      if (target.app === null) return fail(res, target.route, started, 404, 'not_found', 'no app is configured');
      const peer = req.socket.remoteAddress;
      if (!peer) return void req.destroy();
      const forwardedFor = req.headers['x-forwarded-for'];
      const clientIp = clientAddress(peer, forwardedFor, trusted);
      const rateKey = rateLimitKey(clientIp, forwardedFor, trusted);
      const untrusted = isUntrustedForward(peer, forwardedFor, trusted);
      submit(target.app, clientIp, rateKey, untrusted, body, (result) => answer(res, target.route, started, result));
    });
  };

  const handleThreadRoute = (req: IncomingMessage, res: ServerResponse, target: ThreadRouteMatch) => {
    const started = performance.now();
    const reply = (result: RouteAnswer) => {
      const headers: Record<string, string> = {
        ...result.headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(result.body)),
      };
      res.writeHead(result.status, headers);
      res.end(result.body);
      samples.add(target.path, res.statusCode, (performance.now() - started) / 1000);
    };
    if (closing) {
      res.setHeader('connection', 'close');
      return fail(res, target.path, started, 503, 'unavailable', 'the server is shutting down');
    }
    readBody(
      req,
      target.bodyLimit,
      () => fail(res, target.path, started, 413, 'payload_too_large', tooLargeMessage),
      (body) => {
        if (requestReplies.length === 0) setImmediate(flushRequests);
        requests.paths.push(target.path);
        requests.authorizations.push(target.authorization);
        requests.bodies.push(body);
        requestReplies.push(reply);
      },
    );
  };

  const server = createServer((req, res) => {
    const target = checkinRoute(req, init.defaultApp);
    if (target) return handleCheckin(req, res, target);
    const route = threadRoute(req, routeLimits);
    if (route) return handleThreadRoute(req, res, route);
    const poll = closing ? null : polls.match(req);
    if (poll) polls.handle(req, res, poll);
    else proxy.forward(req, res);
  });
  // The main thread's limits, so that a long upload is not cut here where it would not be there.
  server.keepAliveTimeout = init.keepAliveTimeoutMs;
  server.requestTimeout = init.requestTimeoutMs;
  server.headersTimeout = init.headersTimeoutMs;
  let refused = 0;
  limitConnections(server, init.connectionLimit, () => refused++);
  const metricsTimer = setInterval(() => {
    const drained = samples.drain();
    if (drained.length > 0 || refused > 0) post({ type: 'http-metrics', samples: drained, refused });
    refused = 0;
  }, 1000);

  async function close(graceMs: number): Promise<void> {
    closing = true;
    await closeGracefully(server, graceMs, () => new Promise<void>((resolve) => server.close(() => resolve())));
    clearInterval(metricsTimer);
    const drained = samples.drain();
    if (drained.length > 0) post({ type: 'http-metrics', samples: drained });
    proxy.close();
    port.close();
  }

  server.on('clientError', answerClientError);
  server.listen({ host: init.host, port: init.port, reusePort: true, backlog: LISTEN_BACKLOG }, () => {
    const address = server.address();
    post({ type: 'listening', port: typeof address === 'object' && address ? address.port : init.port });
  });
  server.on('error', (err) => post({ type: 'error', message: err.message }));
  return server;
}
