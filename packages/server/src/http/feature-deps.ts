import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { TokenStore } from '../auth/tokens.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { ServerConfig } from '../config/config.ts';
import type { Database, Dialect } from '../db/connection.ts';
import type { Tables } from '../db/tables.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ThreadRoutes } from './thread-routes.ts';

/** What every API feature plugin receives from the composition root. */
export interface FeatureDeps {
  db: Kysely<Tables>;
  dialect: Dialect;
  tokens: TokenStore;
  /** The server's data directory (signing key, upload staging, artifacts with the file blob store). */
  dataDir: string;
  /** Where artifacts and fault archives live (`--blob-store`); the data directory when absent. */
  blobs?: BlobStore;
  logger: Logger;
  /** The validated configuration (retention settings and the like). */
  config: ServerConfig;
  metrics: Metrics;
  /** Where features register agent routes that check-in threads read themselves (see ThreadRoute). */
  threadRoutes?: ThreadRoutes;
  /** One durable commit that does not hold the event loop while SQLite syncs (Database.commitDurably). */
  commitDurably?: <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;
  /** The same in two steps, for group-commit writers (Database.commitPipelined). */
  commitPipelined?: Database['commitPipelined'];
  /** One statement, durable, without a transaction's round trips on PostgreSQL (Database.writeOne). */
  writeOne?: Database['writeOne'];
}
