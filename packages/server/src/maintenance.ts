import { rmSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { buildLogPath } from './builds/log-file.ts';
import { deleteEndedBefore } from './builds/store.ts';
import { BlobStore } from './catalog/artifacts.ts';
import { artifactSweepGraceMs, sweepArtifactTmp, sweepOrphanBlobs } from './catalog/sweep.ts';
import type { AppRegistry } from './checkin/apps.ts';
import type { InstanceKeys } from './checkin/instance-keys.ts';
import { expireRawCheckins } from './checkin/store.ts';
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
  /** With `dataDir`: deleted items older than this are purged, artifacts included. */
  trashRetentionMs?: number;
  /** With `dataDir`: builds that ended longer ago than this are deleted with their logs. */
  buildRetentionMs?: number;
  intervalMs?: number;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  let running: Promise<void> | null = null;
  const blobs = deps.dataDir === undefined ? undefined : new BlobStore(deps.dataDir);
  const trash =
    deps.dataDir === undefined || deps.trashRetentionMs === undefined
      ? undefined
      : createTrashService({
          db: deps.db,
          dataDir: deps.dataDir,
          retentionMs: deps.trashRetentionMs,
          logger: deps.logger,
          now: () => new Date(now()),
        });
  const runOnce = async () => {
    const t = now();
    for (const app of deps.apps.list()) {
      const expired = await expireRawCheckins(deps.db, app.config.name, t - deps.rawRetentionMs);
      if (expired > 0) deps.logger.info({ app: app.config.name, expired }, 'expired raw check-ins past retention');
      const period = app.config.queryPeriodMs;
      const currentStart = t - (t % period);
      // Periods starting before this have ended at least keyGraceMs ago.
      const closedBefore = t - (t % period) - (t - currentStart < keyGraceMs ? period : 0);
      const destroyed = await deps.instanceKeys.destroyClosed(app.config.name, closedBefore);
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
      const tmpFiles = await sweepArtifactTmp(blobs, t - artifactSweepGraceMs);
      const orphanBlobs = await sweepOrphanBlobs(deps.db, blobs, t - artifactSweepGraceMs);
      if (tmpFiles + orphanBlobs > 0)
        deps.logger.info({ tmpFiles, orphanBlobs }, 'removed artifact leftovers of interrupted publishes and trims');
    }
  };
  const tick = () => {
    if (running) return;
    running = runOnce()
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
