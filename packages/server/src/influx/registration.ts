import { backoffDelay } from './backoff.ts';
import {
  continuousQueries,
  describeCqChange,
  formatInfluxDuration,
  parseCqShape,
  quoteIdent,
} from './continuous-queries.ts';
import { type InfluxClient, InfluxError } from './influx-client.ts';

export interface InfluxApp {
  /** App name; the database is `<name>_upgrade_responder`, as upgrade-responder names it. */
  name: string;
  /** Down-sampling period of the continuous queries. */
  queryPeriodMs: number;
  /** Tag keys of the app's schema (as clients send them); each gets its own down-sampling query. */
  tagKeys: string[];
}

/** The part of a pino logger the InfluxDB code uses. */
export interface SinkLogger {
  debug(obj: unknown, msg?: string, ...args: unknown[]): void;
  info(obj: unknown, msg?: string, ...args: unknown[]): void;
  warn(obj: unknown, msg?: string, ...args: unknown[]): void;
  error(obj: unknown, msg?: string, ...args: unknown[]): void;
}

const SAFE_NAME = /^[A-Za-z0-9_]+$/;

/** Database name for an app; throws unless the name is a plain identifier. */
export function databaseName(app: string): string {
  if (!SAFE_NAME.test(app)) {
    throw new Error(
      `invalid app name ${JSON.stringify(app)} for InfluxDB: use only letters, digits and underscores ([A-Za-z0-9_]+)`,
    );
  }
  return `${app}_upgrade_responder`;
}

/** Stored CQ definitions of one database, by name. */
async function storedQueries(client: InfluxClient, db: string, signal?: AbortSignal): Promise<Map<string, string>> {
  const stored = new Map<string, string>();
  for (const result of await client.query('SHOW CONTINUOUS QUERIES', undefined, signal)) {
    for (const series of result.series ?? []) {
      if (series.name !== db) continue;
      const nameAt = series.columns.indexOf('name');
      const queryAt = series.columns.indexOf('query');
      for (const row of series.values ?? []) {
        const name = row[nameAt];
        const query = row[queryAt];
        if (typeof name === 'string' && typeof query === 'string') stored.set(name, query);
      }
    }
  }
  return stored;
}

/**
 * Creates the app's database and its continuous queries. Where a query of the same name exists
 * with another definition (upgrade-responder stops with "already exists"), it is dropped and recreated.
 */
export async function registerDatabase(
  client: InfluxClient,
  app: InfluxApp,
  logger: SinkLogger,
  signal?: AbortSignal,
): Promise<void> {
  const db = databaseName(app.name);
  const wanted = continuousQueries(db, app.queryPeriodMs, app.tagKeys);
  await client.query(`CREATE DATABASE ${quoteIdent(db)}`, undefined, signal);
  const stored = await storedQueries(client, db, signal);
  for (const cq of wanted) {
    const current = stored.get(cq.name);
    if (current !== undefined) {
      const changes = describeCqChange(parseCqShape(current), cq.shape, current);
      if (changes.length === 0) continue;
      logger.warn(
        { db, cq: cq.name, changes, previous: current },
        `InfluxDB continuous query ${cq.name} on ${db} changed (${changes.join('; ')}); replacing it`,
      );
      await client.query(`DROP CONTINUOUS QUERY ${quoteIdent(cq.name)} ON ${quoteIdent(db)}`, undefined, signal);
    }
    await client.query(cq.statement, undefined, signal);
    logger.debug({ db, cq: cq.name }, 'InfluxDB continuous query created');
  }
}

export interface RegistrarOptions {
  client: InfluxClient;
  logger: SinkLogger;
  retryBaseMs: number;
  /** Aborts attempts in flight when the sink closes. */
  signal: AbortSignal;
  /** Called when a database becomes ready for writes. */
  onReady(db: string): void;
}

interface Registration {
  app: InfluxApp;
  /** pending: not set up yet, its points wait; failed: gave up, its points are written anyway. */
  state: 'pending' | 'ready' | 'failed';
  generation: number;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  chain: Promise<void>;
}

const RETRY_CAP_MS = 60_000;

/** Keeps each registered app's database set up, retrying in the background while InfluxDB is away. */
export function createRegistrar(options: RegistrarOptions) {
  const { client, logger, signal } = options;
  const registrations = new Map<string, Registration>();
  let stopped = false;

  // Runs one attempt after any earlier one for the same app; a newer registerApp supersedes older retries.
  function attempt(reg: Registration, generation: number): Promise<void> {
    const run = reg.chain.then(async () => {
      if (generation !== reg.generation || signal.aborted) return;
      const db = databaseName(reg.app.name);
      try {
        await registerDatabase(client, reg.app, logger, signal);
        if (generation !== reg.generation) return;
        reg.state = 'ready';
        reg.attempt = 0;
        logger.info({ db }, 'InfluxDB database and continuous queries ready');
        options.onReady(db);
      } catch (err) {
        // Superseded by a newer registration, or the sink is shutting down: nothing to report.
        if (generation !== reg.generation || signal.aborted) return;
        if (err instanceof InfluxError && err.retryable) {
          if (stopped) return;
          const delay = backoffDelay(reg.attempt++, options.retryBaseMs, RETRY_CAP_MS);
          logger.warn(
            { db, err: err.message, retryInMs: delay },
            `InfluxDB unavailable, cannot set up ${db} yet; retrying in the background, check-ins are queued meanwhile`,
          );
          // Background attempts log their own failures; nobody awaits them.
          reg.timer = setTimeout(() => attempt(reg, generation).catch(() => {}), delay);
          reg.timer.unref();
          return;
        }
        if (reg.state === 'pending') reg.state = 'failed';
        logger.error({ db, err: err instanceof Error ? err.message : String(err) }, `InfluxDB: cannot set up ${db}`);
        throw err;
      }
    });
    reg.chain = run.catch(() => {});
    return run;
  }

  return {
    /** Resolves once set up or once retrying in the background; rejects on invalid input or a permanent error. */
    async register(app: InfluxApp): Promise<void> {
      const db = databaseName(app.name);
      formatInfluxDuration(app.queryPeriodMs);
      if (stopped) throw new Error('InfluxDB sink is closed');
      let reg = registrations.get(db);
      if (reg) {
        clearTimeout(reg.timer);
        Object.assign(reg, { app, generation: reg.generation + 1, attempt: 0 });
        if (reg.state === 'failed') reg.state = 'pending';
      } else {
        reg = { app, state: 'pending', generation: 0, attempt: 0, timer: undefined, chain: Promise.resolve() };
        registrations.set(db, reg);
      }
      return attempt(reg, reg.generation);
    },

    /** Points for a pending database wait; unknown databases are written to as they are. */
    isPending(db: string): boolean {
      return registrations.get(db)?.state === 'pending';
    },

    /** After a "database not found": sets a ready database up again; false if it is not ours to fix. */
    recreate(db: string): boolean {
      const reg = registrations.get(db);
      if (reg?.state !== 'ready' || stopped) return false;
      reg.state = 'pending';
      attempt(reg, reg.generation).catch(() => {});
      return true;
    },

    stop(): void {
      stopped = true;
      for (const reg of registrations.values()) clearTimeout(reg.timer);
    },
  };
}
