import type { TrashItem, TrashKind } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import { ArtifactStore } from '../catalog/artifacts.ts';
import { isVersionPinned, type PinCheck } from '../catalog/pins.ts';
import * as catalog from '../catalog/store.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, NotFound } from '../errors.ts';
import { restoreRows } from './restore.ts';
import * as store from './store.ts';

export const defaultTrashRetentionMs = 7 * 24 * 3_600_000;

/** Who the audit log credits for purges the retention sweep does. */
export const trashSweepActor: Principal = { tokenId: 'trash-retention', name: 'trash-retention', role: 'admin' };

export interface TrashDeps {
  db: Kysely<Tables>;
  dataDir: string;
  /** Where artifact blobs live; the data directory when absent. */
  blobs?: BlobStore;
  retentionMs?: number;
  isPinned?: PinCheck;
  logger?: Logger;
  now?: () => Date;
}

const auditTarget = (row: { kind: string; name: string; version: string | null }) =>
  row.kind === 'version'
    ? `service:${row.name}/version:${row.version}`
    : `${row.kind === 'environment' ? 'env' : row.kind}:${row.name}`;

const describe = (kind: string, name: string, version?: string | null) =>
  kind === 'version' ? `version ${version} of service "${name}"` : `${kind} "${name}"`;

export type TrashService = ReturnType<typeof createTrashService>;

/** Deleted services, profiles, environments and versions: listed, restored, purged after the retention. */
export function createTrashService(deps: TrashDeps) {
  const { db } = deps;
  const retentionMs = deps.retentionMs ?? defaultTrashRetentionMs;
  const isPinned = deps.isPinned ?? isVersionPinned;
  const now = () => deps.now?.() ?? new Date();
  const blobs = new ArtifactStore(deps.dataDir, deps.blobs);

  const toItem = (row: store.TrashRow): TrashItem => ({
    id: row.id,
    kind: row.kind as TrashKind,
    name: row.name,
    version: row.version,
    deletedAt: row.deleted_at,
    deletedBy: row.deleted_by,
    purgeAfter: new Date(Date.parse(row.deleted_at) + retentionMs).toISOString(),
  });

  /** Removes entries for good, then the artifacts only they still kept. */
  async function purgeRows(actor: Principal, rows: store.TrashRow[]): Promise<void> {
    for (const row of rows) {
      await db.transaction().execute(async (tx) => {
        await store.removeTrash(tx, row.id);
        await recordAudit(tx, {
          actor,
          action: `${row.kind}.purge`,
          target: auditTarget(row),
          before: toItem(row),
        });
      });
    }
    const digests = rows.map((r) => r.digest).filter((d): d is string => d !== null);
    if (digests.length === 0) return;
    await blobs.exclusive(async () => {
      for (const digest of await catalog.unreferencedDigests(db, digests)) await blobs.remove(digest);
    });
  }

  return {
    retentionMs,

    async list(kind?: TrashKind): Promise<TrashItem[]> {
      return (await store.listTrash(db, kind)).map(toItem);
    },

    /** Deletes a version that no recent desired list or active rollout names; its artifact stays while restorable. */
    async deleteVersion(actor: Principal, service: string, version: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await catalog.getVersion(tx, service, version);
        if (!row) {
          if (!(await catalog.getService(tx, service))) throw new NotFound(`no service "${service}"`);
          throw new NotFound(`service "${service}" has no version ${version}`);
        }
        if (await isPinned(tx, service, version)) {
          throw new Conflict(
            `version ${version} of service "${service}" is named by a recent desired list or an active rollout; change those first`,
          );
        }
        await catalog.deleteVersions(tx, service, [version]);
        await store.putInTrash(tx, {
          kind: 'version',
          name: service,
          version,
          digest: row.digest,
          data: row,
          at: now().toISOString(),
          by: authorName(actor),
        });
        await recordAudit(tx, {
          actor,
          action: 'version.delete',
          target: `service:${service}/version:${version}`,
          before: { digest: row.digest, size: row.size, notes: row.notes, author: row.author },
        });
      });
    },

    /** Restores the most recently deleted entry of that kind and name, or the one with `id`. */
    async restore(actor: Principal, kind: TrashKind, name: string, version?: string, id?: string): Promise<TrashItem> {
      const run = () =>
        db.transaction().execute(async (tx) => {
          const row =
            id === undefined ? await store.latestTrash(tx, kind, name, version) : await store.getTrash(tx, id);
          if (!row || row.kind !== kind || row.name !== name || (version !== undefined && row.version !== version)) {
            throw new NotFound(
              `no deleted ${describe(kind, name, version)} to restore${id ? ` with the id "${id}"` : ''}`,
            );
          }
          if (row.digest !== null && !(await blobs.exists(row.digest))) {
            throw new Conflict(`the artifact of ${describe(kind, name, row.version)} is gone; it cannot be restored`);
          }
          await restoreRows(tx, row);
          await store.removeTrash(tx, row.id);
          await recordAudit(tx, { actor, action: `${kind}.restore`, target: auditTarget(row), after: toItem(row) });
          return toItem(row);
        });
      // A version comes back under the blob lock, so a purge running beside it cannot take its artifact.
      return kind === 'version' ? blobs.exclusive(run) : run();
    },

    /** Restores one entry by its id (an older one than `restore` by name would pick). */
    async restoreById(actor: Principal, id: string): Promise<TrashItem> {
      const row = await store.getTrash(db, id);
      if (!row) throw new NotFound(`nothing in the trash has the id "${id}"`);
      return this.restore(actor, row.kind as TrashKind, row.name, row.version ?? undefined, id);
    },

    /** Purges one entry now, ahead of the retention. */
    async purge(actor: Principal, id: string): Promise<TrashItem> {
      const row = await store.getTrash(db, id);
      if (!row) throw new NotFound(`nothing in the trash has the id "${id}"`);
      await purgeRows(actor, [row]);
      return toItem(row);
    },

    /** Purges what was deleted longer ago than the retention; returns how many entries went. */
    async purgeExpired(): Promise<number> {
      const cutoff = new Date(now().getTime() - retentionMs).toISOString();
      let total = 0;
      for (;;) {
        const rows = await store.expiredTrash(db, cutoff);
        if (rows.length === 0) break;
        await purgeRows(trashSweepActor, rows);
        total += rows.length;
      }
      if (total > 0) deps.logger?.info({ purged: total }, 'purged deleted items past the trash retention');
      return total;
    },
  };
}
