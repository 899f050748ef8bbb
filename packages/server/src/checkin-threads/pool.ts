import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AppRegistry } from '../checkin/apps.ts';
import { untrustedForwardWarning } from '../checkin/forwarded.ts';
import { RateWindow } from '../checkin/rate-window.ts';
import type { CheckinService } from '../checkin/service.ts';
import { DomainError, NotFound, statusByCode } from '../errors.ts';
import { BatchMemo, errorAnswer, type ThreadRoutes } from '../http/thread-routes.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { createMainPolls } from './main-polls.ts';
import type {
  CheckinBatch,
  CheckinResult,
  CheckinResults,
  RouteAnswer,
  ThreadInit,
  ToMain,
  ToThread,
} from './messages.ts';
import { removeStaleSocketDirs, socketDirPrefix, socketFileName } from './stale-socket-dirs.ts';

export interface CheckinThreadsOptions {
  count: number;
  host: string;
  port: number;
  checkins: CheckinService;
  apps: AppRegistry;
  trustedProxies: string[];
  rateLimitPerMinute: number;
  bodyLimit: number;
  keepAliveTimeoutMs: number;
  requestTimeoutMs: number;
  /** Client connections each thread may hold (see connectionBudget). */
  connectionLimit: number;
  headersTimeoutMs: number;
  metrics: Metrics;
  logger: Logger;
  /** Agent routes the threads read and hand over in batches instead of passing them on over HTTP. */
  routes?: ThreadRoutes;
}

/**
 * A private directory for the main thread's socket, which only this user can reach. Folders that
 * killed servers left behind are removed meanwhile; a running server's never are.
 */
export function privateSocketPath(): { path: string; remove: () => void } {
  // A Unix socket path has at most 107 bytes; under a long TMPDIR the folder goes to /tmp instead.
  const longest = join(tmpdir(), `${socketDirPrefix}${process.pid}-XXXXXX`, socketFileName);
  const base = Buffer.byteLength(longest) > 107 ? '/tmp' : tmpdir();
  void removeStaleSocketDirs(base).catch(() => {});
  const dir = mkdtempSync(join(base, `${socketDirPrefix}${process.pid}-`));
  return { path: join(dir, socketFileName), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function indexAnswers(results: CheckinResult[]): CheckinResults {
  const answers: string[] = [];
  const indexed = results.map((result) => {
    if (typeof result !== 'string') return result;
    const at = answers.indexOf(result);
    return at >= 0 ? at : answers.push(result) - 1;
  });
  return { answers, results: indexed };
}

/**
 * SO_REUSEPORT would let a second server on the same port share its connections silently; an
 * exclusive bind first makes that fail with EADDRINUSE, as a server without threads does.
 */
function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

const workerUrl = new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * Starts the check-in threads on the public address and serves their check-ins: each batch is
 * stored through the same service as a check-in taken on this thread, and answered when durable.
 * A thread that dies is replaced; `close()` lets each finish its requests first.
 */
export async function startCheckinThreads(opts: CheckinThreadsOptions, upstreamSocket: string) {
  const limiter = opts.rateLimitPerMinute > 0 ? new RateWindow(opts.rateLimitPerMinute, 60_000) : null;
  const noteUntrustedForward = untrustedForwardWarning(opts.logger, opts.metrics, opts.trustedProxies.length > 0);
  const threads = new Set<Worker>();
  let port = opts.port;
  let closing = false;

  const init = (): ThreadInit => ({
    // A thread binds one address; Node may resolve "localhost" to ::1 where clients try 127.0.0.1.
    host: opts.host === 'localhost' ? '127.0.0.1' : opts.host,
    port,
    upstreamSocket,
    defaultApp: opts.apps.list().length > 0 ? opts.apps.getDefault().config.name : null,
    trustedProxies: opts.trustedProxies,
    threadRoutes: opts.routes?.list() ?? [],
    pollRoutes: opts.routes?.listPolls() ?? [],
    bodyLimit: opts.bodyLimit,
    keepAliveTimeoutMs: opts.keepAliveTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs,
    headersTimeoutMs: opts.headersTimeoutMs,
    connectionLimit: opts.connectionLimit,
  });

  const store = async (appName: string, clientIp: string, rateKey: string, body: string): Promise<CheckinResult> => {
    try {
      const app = opts.apps.get(appName);
      const retryAfter = limiter?.hit(rateKey || clientIp) ?? 0;
      if (retryAfter > 0) {
        return {
          status: 429,
          code: 'rate_limited',
          message: `too many check-ins from this address; retry in ${retryAfter} s`,
          headers: { 'retry-after': String(retryAfter) },
        };
      }
      return await opts.checkins.checkIn(app, body, clientIp);
    } catch (err) {
      if (err instanceof DomainError) {
        return { status: statusByCode[err.code], code: err.code, message: err.message, headers: err.headers };
      }
      opts.logger.error({ err }, 'storing a check-in from a check-in thread failed');
      return { status: 500, code: 'internal', message: 'internal error; the server log has details', headers: {} };
    }
  };

  const storeBatch = (batch: CheckinBatch): Promise<CheckinResult[]> => {
    if (batch.untrustedForwarded > 0) noteUntrustedForward.checkins(batch.untrustedForwarded);
    return Promise.all(
      batch.bodies.map((body, i) =>
        store(batch.apps[i] as string, batch.clientIps[i] as string, batch.rateKeys[i] as string, body),
      ),
    );
  };

  const answerRequests = (batch: Extract<ToMain, { type: 'requests' }>): Promise<RouteAnswer[]> => {
    const memo = new BatchMemo();
    return Promise.all(
      batch.paths.map((path, i) => {
        const route = opts.routes?.get(path);
        if (!route) return errorAnswer(new NotFound(`no route POST ${path}`), opts.logger);
        opts.metrics.threadRouteRequests.labels({ route: path }).inc();
        return route.handle(batch.authorizations[i] as string, batch.bodies[i] as string, memo);
      }),
    );
  };

  const observe = (message: Extract<ToMain, { type: 'http-metrics' }>) => {
    if (message.refused) opts.metrics.connectionsRefused.inc(message.refused);
    for (const s of message.samples) {
      const method = opts.routes?.getPoll(s.route) ? 'GET' : 'POST';
      opts.metrics.httpRequests.labels({ method, route: s.route, status: s.status }).inc(s.durations.length);
      const histogram = opts.metrics.httpDuration.labels({ method, route: s.route });
      for (const d of s.durations) histogram.observe(d);
    }
  };

  const flushes = new Map<number, () => void>();
  let nextFlushId = 0;
  /** Asks one thread for the durations it holds; gives up after a moment so a scrape is never stuck. */
  const flush = (worker: Worker) =>
    new Promise<void>((resolve) => {
      const flushId = ++nextFlushId;
      const timer = setTimeout(() => flushes.delete(flushId) && resolve(), 500);
      flushes.set(flushId, () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'flush-metrics', flushId } satisfies ToThread);
    });
  const collect = async () => {
    await Promise.all([...threads].map(flush));
  };
  opts.metrics.beforeScrape.push(collect);

  const spawn = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl, { workerData: init(), name: 'flotilla-checkin' });
      threads.add(worker);
      let listening = false;
      const send = (message: ToThread) => worker.postMessage(message);
      const polls = createMainPolls(opts.routes, send, opts.logger);
      worker.on('message', (message: ToMain) => {
        if (message.type === 'polls') polls.take(message);
        else if (message.type === 'poll-cancel') polls.cancel(message);
        else if (message.type === 'checkins') {
          void storeBatch(message).then((results) =>
            send({ type: 'results', seq: message.seq, ...indexAnswers(results) }),
          );
        } else if (message.type === 'requests') {
          void answerRequests(message).then((answers) => send({ type: 'answers', seq: message.seq, answers }));
        } else if (message.type === 'http-metrics') {
          observe(message);
          if (message.flushId !== undefined) {
            flushes.get(message.flushId)?.();
            flushes.delete(message.flushId);
          }
        } else if (message.type === 'listening') {
          listening = true;
          opts.metrics.checkinThreads.inc();
          resolve(message.port);
        } else if (message.type === 'error') {
          opts.logger.error({ err: message.message }, 'a check-in thread failed');
          if (!listening) reject(new Error(message.message));
        }
      });
      worker.once('error', (err) => {
        opts.logger.error({ err }, 'a check-in thread crashed');
        if (!listening) reject(err);
      });
      worker.once('exit', (code) => {
        polls.dropAll();
        threads.delete(worker);
        if (listening) opts.metrics.checkinThreads.dec();
        if (closing || !listening) return;
        opts.logger.error({ code }, 'a check-in thread stopped; starting another');
        setTimeout(() => {
          if (closing) return;
          spawn().then(
            () => opts.metrics.checkinThreadRestarts.inc(),
            (err: Error) => opts.logger.error({ err }, 'could not restart a check-in thread'),
          );
        }, 1000).unref();
      });
    });

  const close = async (graceMs: number): Promise<void> => {
    closing = true;
    const index = opts.metrics.beforeScrape.indexOf(collect);
    if (index >= 0) opts.metrics.beforeScrape.splice(index, 1);
    await Promise.all(
      [...threads].map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.postMessage({ type: 'close', graceMs } satisfies ToThread);
          }),
      ),
    );
  };

  try {
    await assertPortFree(init().host, opts.port);
    // The first thread binds the port (perhaps an ephemeral one); the others join it.
    port = await spawn();
    await Promise.all(Array.from({ length: opts.count - 1 }, spawn));
  } catch (err) {
    await close(0);
    throw err;
  }
  return {
    port,
    /**
     * Stops taking connections, and resolves once every thread has answered what it took. Requests
     * passed on to the main thread end when it closes, so close both at once.
     */
    close,
    /** The running threads, for diagnostics and for tests that stop one. */
    workers: (): readonly Worker[] => [...threads],
  };
}

export type CheckinThreads = Awaited<ReturnType<typeof startCheckinThreads>>;
