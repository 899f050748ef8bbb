import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { generateToken, TokenStore } from './auth/tokens.ts';
import { openBlobStore } from './blobs/open-blob-store.ts';
import { type BuilderCommand, BuildRunner } from './builds/runner.ts';
import { createAppRegistry } from './checkin/apps.ts';
import { catalogVersions } from './checkin/catalog-answer.ts';
import { InstanceKeys } from './checkin/instance-keys.ts';
import { checkinBodyLimit } from './checkin/routes.ts';
import { type CheckinSink, createCheckinService } from './checkin/service.ts';
import { appendBatch } from './checkin/store.ts';
import { CheckinWriter } from './checkin/writer.ts';
import { type CheckinThreads, privateSocketPath, startCheckinThreads } from './checkin-threads/pool.ts';
import { PASS_THROUGH_SOCKETS } from './checkin-threads/proxy.ts';
import { startCluster } from './cluster/cluster.ts';
import { clusterWideWrites } from './cluster/shared-writes.ts';
import type { ServerConfig } from './config/config.ts';
import { refuseDataInsideService } from './config/data-dir-placement.ts';
import { type OpenOptions, openDatabase } from './db/connection.ts';
import { migrateToLatest } from './db/migrate.ts';
import { refuseNewerSchema } from './db/newer-schema.ts';
import { claimSqliteDatabase } from './db/sqlite-owner.ts';
import { agentNotifier } from './desired/agent-routes.ts';
import { ConfigError } from './errors.ts';
import { readConnection } from './federation/connection.ts';
import { createFollower } from './federation/follower.ts';
import { openGeoLocator } from './geo/geo.ts';
import { connectionBudget, LISTEN_BACKLOG, limitConnections, openFileLimit } from './http/connection-limit.ts';
import { closeGracefully } from './http/graceful-close.ts';
import { ThreadRoutes } from './http/thread-routes.ts';
import { createInfluxSink } from './influx/sink.ts';
import { createLogger } from './logging/logger.ts';
import { startMaintenance } from './maintenance.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { tightenDataDir } from './private-files.ts';
import { buildHttpApp } from './routes.ts';
import { agreeOnServerKeys } from './server-keys/agreement.ts';
import { heldKeys } from './server-keys/held-keys.ts';
import { privateFilesFor } from './service-private-files/routes.ts';
import { SetupGate } from './setup/gate.ts';
import { createUsageService } from './usage/service.ts';

export interface RunningServer {
  app: FastifyInstance;
  /** The address the server listens on, e.g. http://127.0.0.1:8314. */
  url: string;
  metrics: Metrics;
  /** Set when this start created the first admin token; it is shown once and stored only as a hash. */
  createdAdminToken: string | null;
  /** Set when the store has no user: the one-time code that creates the first admin (only its digest is kept). */
  setupCode: string | null;
  /** The check-in threads that own the public port (for diagnostics), or null when HTTP is on the main thread. */
  checkinThreads: Pick<CheckinThreads, 'workers'> | null;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** How often response config files are checked for changes (ms). */
  reloadIntervalMs?: number;
  /** How often catalog-backed check-in answers are rebuilt (ms). */
  catalogRefreshMs?: number;
  /** How long in-flight requests may take to finish at shutdown before their connections are cut. */
  shutdownGraceMs?: number;
  /** Replaces SQLite's WAL sync after check-in commits; tests make it fail. */
  syncWal?: OpenOptions['syncWal'];
  /** How to start the CLI's build engine for queued builds (`flotilla server` gives itself); none: builds are refused. */
  builder?: BuilderCommand;
  /** The agent's directory of this service when an agent runs the server (`FLOTILLA_SERVICE_DIR`); data must live outside it. */
  serviceDir?: string | undefined;
  /** Started by hand to bootstrap: never ready, and a server started later on the same SQLite database stops it and takes over. */
  untilReplaced?: boolean;
  /** Federation: how often a consumer reports to its provider (ms), its feed polls' wait (s), the provider's feed check (ms). */
  federation?: { reportIntervalMs?: number; waitSeconds?: number; feedIntervalMs?: number };
}

/** In-flight requests wait for their commit, so nothing acknowledged is lost. */
const closeHttp = (app: FastifyInstance, graceMs: number) => closeGracefully(app.server, graceMs, () => app.close());

/** How a client on this machine reaches an address the server listens on. */
function localHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Fastify logs each address it listens on at info; ours is logged once with the URL, so these go to debug. */
async function listenQuietly(app: FastifyInstance, options: { path: string } | { host: string; port: number }) {
  const log = app.log;
  app.log = Object.assign(Object.create(log), { info: log.debug.bind(log) });
  try {
    return await app.listen({ ...options, backlog: LISTEN_BACKLOG });
  } finally {
    app.log = log;
  }
}

export const serverVersion: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

/** Opens the store, migrates, loads apps and listens. `close()` stops taking requests and flushes everything acknowledged. */
export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? (await createLogger({ level: config.logLevel, format: config.logFormat }));
  const metrics = createMetrics();
  refuseDataInsideService(config, opts.serviceDir);
  tightenDataDir(config.dataDir, logger);
  // Before the store opens, so a second server on the same SQLite file changes nothing and says why.
  const owner =
    /^postgres(ql)?:\/\//.test(config.database) || config.database === ':memory:'
      ? undefined
      : await claimSqliteDatabase(config.database, { untilReplaced: opts.untilReplaced ?? false });
  const database = openDatabase(config.database, {
    onConnectionError: (err) =>
      logger.warn({ err: err.message }, 'lost an idle database connection; it will be replaced'),
    syncWal: opts.syncWal,
  });
  const cleanups: Array<() => Promise<void> | void> = [() => owner?.release(), () => database.close()];
  let closing: Promise<void> | null = null;
  let started = false;
  const cleanup = () => {
    closing ??= (async () => {
      for (const fn of cleanups.reverse()) await fn();
    })();
    return closing;
  };
  try {
    await refuseNewerSchema(database.db, serverVersion);
    const applied = await migrateToLatest(database.db);
    logger.info({ store: database.description, applied }, 'store ready');
    // Several servers may share PostgreSQL: each must hold the keys the others sign and seal with.
    if (database.dialect === 'postgres')
      await agreeOnServerKeys(database.db, await heldKeys(config.dataDir, config.privateFilesKey));
    // Before any feature starts: they find the bus and the leader through the store handle.
    const cluster = startCluster(database, { logger, registry: metrics.registry });
    cleanups.push(() => cluster.close());
    await cluster.leader.ready;
    const tokens = new TokenStore(database.db, Date.now, {
      // On PostgreSQL a last-use write is one statement that commits alone, durable when it returns.
      ...(database.dialect === 'sqlite' ? { commitLazily: database.commitPipelined } : {}),
      watchWrites:
        database.dialect === 'postgres' ? clusterWideWrites(database.watchWrites, cluster.bus) : database.watchWrites,
    });
    if (config.adminToken) await tokens.ensureEnvAdmin(config.adminToken);
    const setup = new SetupGate({ db: database.db, logger });
    // Made before listening, so the first request already finds setup pending; a failed start loses
    // nothing, as the next one makes a new code.
    const setupCode = await setup.open();
    const apps = createAppRegistry(config.apps, {
      dataDir: config.dataDir,
      logger,
      metrics,
      pollIntervalMs: opts.reloadIntervalMs,
    });
    cleanups.push(() => apps.close());
    // Catalog-backed answers follow publishes and desired-version changes within a couple of seconds.
    const refreshAnswers = () => apps.refreshCatalogApps((catalog) => catalogVersions(database.db, catalog));
    await refreshAnswers();
    let refreshing: Promise<void> | null = null;
    const refreshNow = () => {
      refreshing ??= refreshAnswers()
        .catch((err: Error) => logger.error({ err }, 'refreshing catalog-backed answers failed'))
        .finally(() => {
          refreshing = null;
        });
    };
    const answerTimer = setInterval(refreshNow, opts.catalogRefreshMs ?? 2000);
    answerTimer.unref();
    // A desired-version change on any replica refreshes at once instead of at the next tick.
    const unsubscribeAnswers = cluster.bus.subscribe('desired', refreshNow);
    cleanups.push(async () => {
      clearInterval(answerTimer);
      unsubscribeAnswers();
      await refreshing;
    });
    const geo = await openGeoLocator(config.geodb, logger).catch((err: Error) => {
      throw new ConfigError(`--geodb: ${err.message}`);
    });
    logger.info(geo.status);
    if (geo.locator) cleanups.push(() => geo.locator?.close());

    const sinks: CheckinSink[] = [];
    if (config.influxdb) {
      const influx = createInfluxSink({ ...config.influxdb, logger, metrics });
      for (const app of apps.list()) {
        await influx.registerApp({
          name: app.config.name,
          queryPeriodMs: app.config.queryPeriodMs,
          tagKeys: [...app.tagKeys],
        });
      }
      sinks.push(influx);
      cleanups.push(() => influx.close());
    }
    // SQLite commits run on this thread; with --checkin-threads, HTTP moves off it instead (docs/benchmarks.md).
    const writer = new CheckinWriter({
      append: (batch) => appendBatch(database.db, batch, database.commitDurably),
      logger,
      metrics,
    });
    cleanups.push(() => writer.close());
    // Artifacts and fault archives: the data directory, or a bucket that replicas share (--blob-store).
    const blobs = await openBlobStore(config.blobStore, config.dataDir);
    await blobs.check();
    logger.info({ blobStore: blobs.id }, 'blob store ready');
    const instanceKeys = new InstanceKeys(database.db);
    const maintenance = startMaintenance({
      db: database.db,
      apps,
      instanceKeys,
      rawRetentionMs: config.rawRetentionMs,
      logger,
      dataDir: config.dataDir,
      blobs,
      trashRetentionMs: config.trashRetentionMs,
      buildRetentionMs: config.buildRetentionMs,
    });
    cleanups.push(() => maintenance.stop());

    const checkins = createCheckinService({
      apps,
      writer,
      instanceKeys,
      geo: geo.locator,
      sinks,
      metrics,
      logger,
      onStoreFailure: config.onStoreFailure,
    });
    const threadRoutes = new ThreadRoutes();
    const builds = new BuildRunner({
      db: database.db,
      dataDir: config.dataDir,
      builder: config.buildConcurrency > 0 ? (opts.builder ?? null) : null,
      concurrency: config.buildConcurrency,
      credentials: tokens.buildCredentials,
      privateFiles: privateFilesFor({ db: database.db, dataDir: config.dataDir, config }),
      logger,
    });
    // Stopped before the store closes; its jobs fail as "server stopped" at the next start.
    cleanups.push(() => builds.close());
    // Started once the server listens; it follows a provider only when one is configured or connected.
    let appServer: FastifyInstance['server'] | undefined;
    const follower = createFollower({
      db: database.db,
      dataDir: config.dataDir,
      blobs,
      logger,
      notifier: () => (appServer ? agentNotifier(appServer) : undefined),
      reportIntervalMs: opts.federation?.reportIntervalMs ?? config.federation?.reportIntervalMs,
      waitSeconds: opts.federation?.waitSeconds,
    });
    const app = await buildHttpApp({
      logger,
      metrics,
      trustedProxies: config.trustedProxies,
      rateLimitPerMinute: config.rateLimitPerMinute,
      checkins,
      usage: createUsageService({ db: database.db, apps }),
      tokens,
      readiness: {
        // Not ready until every listener is up, so a balancer never sees a half-started server.
        check: async () => {
          if (!started) throw new Error('starting');
          if (opts.untilReplaced) throw new Error('started --until-replaced: waiting for the server that replaces it');
          await database.ping();
        },
      },
      features: {
        db: database.db,
        dialect: database.dialect,
        tokens,
        dataDir: config.dataDir,
        blobs,
        logger,
        config,
        metrics,
        commitDurably: database.commitDurably,
        commitPipelined: database.commitPipelined,
        writeOne: database.writeOne,
        threadRoutes,
      },
      builds,
      follower,
      feedIntervalMs: opts.federation?.feedIntervalMs,
      setup,
      version: serverVersion,
      behindCheckinThreads: config.checkinThreads > 0,
    });
    const graceMs = opts.shutdownGraceMs ?? 10_000;
    let url: string;
    let threads: CheckinThreads | null = null;
    // Connections beyond what the open-file limit allows are refused one by one, never a locked-up server.
    const fileLimit = openFileLimit() ?? 1_048_576;
    if (config.checkinThreads > 0) {
      const socket = privateSocketPath();
      cleanups.push(socket.remove);
      // Long polls and log follows pass through the threads; they end when the main thread closes.
      cleanups.push(async () => {
        const threadsDone = threads?.close(graceMs);
        await closeHttp(app, graceMs);
        await threadsDone;
      });
      await listenQuietly(app, { path: socket.path });
      threads = await startCheckinThreads(
        {
          count: config.checkinThreads,
          host: config.host,
          port: config.port,
          checkins,
          apps,
          trustedProxies: config.trustedProxies,
          rateLimitPerMinute: config.rateLimitPerMinute,
          bodyLimit: checkinBodyLimit,
          keepAliveTimeoutMs: app.server.keepAliveTimeout,
          requestTimeoutMs: app.server.requestTimeout,
          headersTimeoutMs: app.server.headersTimeout,
          connectionLimit: connectionBudget(fileLimit, config.checkinThreads, 2 * PASS_THROUGH_SOCKETS),
          metrics,
          logger,
          routes: threadRoutes,
        },
        socket.path,
      );
      url = `http://${localHost(config.host)}:${threads.port}`;
    } else {
      cleanups.push(() => closeHttp(app, graceMs));
      limitConnections(app.server, connectionBudget(fileLimit, 1), () => metrics.connectionsRefused.inc());
      const address = await listenQuietly(app, { host: config.host, port: config.port });
      url = address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
    }
    owner?.listening(url);
    logger.info({ url, apps: apps.list().map((a) => a.config.name) }, 'flotilla server listening');
    // Made only once the server listens, so a start that fails never loses a token nobody saw.
    let createdAdminToken: string | null = null;
    if (!config.adminToken && !(await tokens.hasActiveAdmin())) {
      createdAdminToken = (await tokens.create('first admin', 'admin', generateToken())).token;
    }
    await builds.start(url);
    appServer = app.server;
    const federation = config.federation ?? readConnection(config.dataDir);
    if (federation) {
      await follower.start({
        providerUrl: federation.providerUrl,
        token: federation.token,
        environment: federation.environment,
        providerKeyPem: 'providerKeyPem' in federation ? federation.providerKeyPem : null,
      });
    }
    cleanups.push(() => follower.stop());
    started = true;
    return { app, url, metrics, createdAdminToken, setupCode, checkinThreads: threads, close: cleanup };
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}
