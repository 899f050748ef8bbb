import { rmSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BlobStore } from './blobs/blob-store.ts';
import { buildLogPath } from './builds/log-file.ts';
import { deleteEndedBefore } from './builds/store.ts';
import { ArtifactStore } from './catalog/artifacts.ts';
import { artifactSweepGraceMs, sweepArtifactTmp, sweepOrphanBlobs } from './catalog/sweep.ts';
import type { AppRegistry } from './checkin/apps.ts';
import type { InstanceKeys } from './checkin/instance-keys.ts';
import { expireRawCheckins } from './checkin/store.ts';
import { clusterFor } from './cluster/cluster.ts';
import type { Tables } from './db/tables.ts';
import { createTrashService } from './trash/service.ts';

/** A period's key is destroyed this long after it ends, so a batch committing at the boundary still finds it. */
export const keyGraceMs = 5 * 60_000;

/**
 * Runs the retention jobs now and every `intervalMs`: raw check-ins expire, closed periods lose their keys,
 * and (with `dataDir`) a crashed publish's temp files and blobs no version references are deleted.
 */
export function startMaintenance(deps: {
  db: Kysely<Tables>;
  apps: AppRegistry;
  instanceKeys: InstanceKeys;
  rawRetentionMs: number;
  logger: Logger;
  dataDir?: string;
  /** With `dataDir`: where artifact blobs live (the data directory when absent). */
  blobs?: BlobStore;
  /** With `dataDir`: deleted items older than this are purged, artifacts included. */
  trashRetentionMs?: number;
  /** With `dataDir`: builds that ended longer ago than this are deleted with their logs. */
  buildRetentionMs?: number;
  intervalMs?: number;
  now?: () => number;
  /** Whether this replica runs the shared jobs; the cluster's leadership by default. */
  isLeader?: () => boolean;
}) {
  const isLeader = deps.isLeader ?? (() => clusterFor(deps.db).leader.isLeader());
  const now = deps.now ?? Date.now;
  let running: Promise<void> | null = null;
  const blobs = deps.dataDir === undefined ? undefined : new ArtifactStore(deps.dataDir, deps.blobs);
  const trash =
    deps.dataDir === undefined || deps.trashRetentionMs === undefined
      ? undefined
      : createTrashService({
          db: deps.db,
          dataDir: deps.dataDir,
          blobs: deps.blobs,
          retentionMs: deps.trashRetentionMs,
          logger: deps.logger,
          now: () => new Date(now()),
        });
  const closedBefore = (t: number, period: number) => {
    const currentStart = t - (t % period);
    // Periods starting before this have ended at least keyGraceMs ago.
    return currentStart - (t - currentStart < keyGraceMs ? period : 0);
  };
  // Every replica: its own memory and its own data directory.
  const runLocal = async () => {
    const t = now();
    for (const app of deps.apps.list())
      deps.instanceKeys.forgetClosed(app.config.name, closedBefore(t, app.config.queryPeriodMs));
    if (blobs) {
      const tmpFiles = await sweepArtifactTmp(blobs, t - artifactSweepGraceMs);
      if (tmpFiles > 0) deps.logger.info({ tmpFiles }, 'removed temp files of interrupted uploads');
    }
  };
  // The leader only: what is shared in the database and the blob store.
  const runShared = async () => {
    const t = now();
    for (const app of deps.apps.list()) {
      const expired = await expireRawCheckins(deps.db, app.config.name, t - deps.rawRetentionMs);
      if (expired > 0) deps.logger.info({ app: app.config.name, expired }, 'expired raw check-ins past retention');
      const destroyed = await deps.instanceKeys.destroyClosed(
        app.config.name,
        closedBefore(t, app.config.queryPeriodMs),
      );
      if (destroyed > 0)
        deps.logger.debug({ app: app.config.name, destroyed }, 'destroyed instance keys of closed periods');
    }
    // Before the orphan sweep, so a purged version's blob is not left for the next run.
    await trash?.purgeExpired();
    if (deps.dataDir !== undefined && deps.buildRetentionMs !== undefined) {
      const ended = await deleteEndedBefore(deps.db, new Date(t - deps.buildRetentionMs).toISOString());
      for (const id of ended) rmSync(buildLogPath(deps.dataDir, id), { force: true });
      if (ended.length > 0) deps.logger.info({ builds: ended.length }, 'deleted builds past retention, logs included');
    }
    if (blobs) {
      const orphanBlobs = await sweepOrphanBlobs(deps.db, blobs, t - artifactSweepGraceMs);
      if (orphanBlobs > 0) deps.logger.info({ orphanBlobs }, 'removed artifacts of interrupted publishes and trims');
    }
  };
  const runOnce = async (leader = true) => {
    await runLocal();
    // With replicas on one PostgreSQL, only the leader runs retention and key destruction.
    if (leader) await runShared();
  };
  const tick = () => {
    if (running) return;
    running = runOnce(isLeader())
      .catch((err) => deps.logger.error({ err }, 'maintenance failed; will retry'))
      .finally(() => {
        running = null;
      });
  };
  tick();
  const timer = setInterval(tick, deps.intervalMs ?? 60_000);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      if (running) await running;
    },
  };
}
