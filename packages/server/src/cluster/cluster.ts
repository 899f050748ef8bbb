import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { Database } from '../db/connection.ts';
import type { Tables } from '../db/tables.ts';
import { type BusOptions, type ClusterBus, createClusterBus, createLocalBus } from './bus.ts';
import { alwaysLeader, electLeader, type Leadership } from './leader.ts';

/** What the replicas of one database share: notices between them and the one that leads. */
export interface Cluster {
  bus: ClusterBus;
  leader: Leadership;
}

// Keyed by the store handle every feature already receives, so no feature needs another dependency.
const clusters = new WeakMap<Kysely<Tables>, Cluster>();

/**
 * The cluster of the replica that owns `db`. A store opened without `startCluster` (tests, tools) is a
 * cluster of one: a local bus and always the leader.
 */
export function clusterFor(db: Kysely<Tables>): Cluster {
  let cluster = clusters.get(db);
  if (!cluster) {
    cluster = { bus: createLocalBus(), leader: alwaysLeader() };
    clusters.set(db, cluster);
  }
  return cluster;
}

export interface StartClusterOptions {
  logger?: Logger;
  /** Where the leadership and bus gauges go. */
  registry?: Registry;
  bus?: BusOptions;
  leaderRetryMs?: number;
}

/** Starts the bus and the leader election of this replica and makes them what `clusterFor` returns. */
export function startCluster(
  database: Database,
  options: StartClusterOptions = {},
): Cluster & { close(): Promise<void> } {
  const logger = options.logger;
  const bus = createClusterBus(database, { logger, ...options.bus });
  const leader = electLeader(database, { logger, retryMs: options.leaderRetryMs });
  const cluster: Cluster = { bus, leader };
  clusters.set(database.db, cluster);
  if (options.registry) {
    new Gauge({
      name: 'flotilla_cluster_leader',
      help: '1 while this replica runs the cluster-wide background jobs (always 1 on SQLite)',
      registers: [options.registry],
      collect() {
        this.set(leader.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'flotilla_cluster_bus_connected',
      help: '1 while notices from other replicas arrive (always 1 on SQLite)',
      registers: [options.registry],
      collect() {
        this.set(bus.connected ? 1 : 0);
      },
    });
  }
  return {
    ...cluster,
    async close() {
      await leader.close();
      await bus.close();
    },
  };
}
