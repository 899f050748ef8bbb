import { createHash } from 'node:crypto';
import { type PrivateFile, privateFileLimits, privatePathProblem } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { actorLabel, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { DomainError, Invalid, NotFound } from '../errors.ts';
import { open, type PrivateFileKey, seal } from './cipher.ts';
import type { PrivateFilesTable } from './tables.ts';

export { privateFileLimits };

/** A relative POSIX path without `.`/`..` segments, empty segments, backslashes or control characters. */
export function checkPrivatePath(path: string): string {
  const why = privatePathProblem(path);
  if (why) throw new Invalid(`path "${path.slice(0, 80)}" ${why}`);
  return path;
}

const toInfo = (r: Pick<PrivateFilesTable, 'path' | 'size' | 'sha256' | 'updated_at' | 'updated_by'>): PrivateFile => ({
  path: r.path,
  size: Number(r.size),
  sha256: r.sha256,
  updatedAt: new Date(Number(r.updated_at)).toISOString(),
  updatedBy: r.updated_by,
});

/**
 * Services' private files: stored encrypted (AES-256-GCM, cipher.ts), listed without content, read
 * only by the server's own build jobs. Every upload, removal and read is in the audit log.
 */
export function createPrivateFiles(opts: { db: Kysely<Tables>; key: () => PrivateFileKey; now?: () => number }) {
  const { db } = opts;
  const now = opts.now ?? Date.now;

  async function requireService(service: string) {
    const row = await db.selectFrom('services').select('name').where('name', '=', service).executeTakeFirst();
    if (!row) throw new NotFound(`no service "${service}"`);
  }

  return {
    async list(service: string): Promise<PrivateFile[]> {
      await requireService(service);
      const rows = await db
        .selectFrom('private_files')
        .select(['path', 'size', 'sha256', 'updated_at', 'updated_by'])
        .where('service', '=', service)
        .orderBy('path')
        .execute();
      return rows.map(toInfo);
    },

    async put(actor: Principal, service: string, path: string, content: Buffer): Promise<PrivateFile> {
      checkPrivatePath(path);
      if (content.length > privateFileLimits.bytes)
        throw new DomainError('payload_too_large', `a private file may hold at most ${privateFileLimits.bytes} bytes`);
      await requireService(service);
      const sealed = seal(opts.key(), service, path, content);
      const row: PrivateFilesTable = {
        service,
        path,
        size: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        key_id: sealed.keyId,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        updated_at: now(),
        updated_by: actorLabel(actor),
      };
      await db.transaction().execute(async (tx) => {
        const count = await tx
          .selectFrom('private_files')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('service', '=', service)
          .where('path', '!=', path)
          .executeTakeFirstOrThrow();
        if (Number(count.n) >= privateFileLimits.perService)
          throw new Invalid(`service "${service}" already has ${privateFileLimits.perService} private files`);
        const { service: _s, path: _p, ...update } = row;
        await tx
          .insertInto('private_files')
          .values(row)
          .onConflict((oc) => oc.columns(['service', 'path']).doUpdateSet(update))
          .execute();
        await recordAudit(tx, {
          actor,
          action: 'private-file.put',
          target: `service:${service}`,
          after: { path, size: row.size, sha256: row.sha256 },
        });
      });
      return toInfo(row);
    },

    async remove(actor: Principal, service: string, path: string): Promise<void> {
      checkPrivatePath(path);
      await db.transaction().execute(async (tx) => {
        const gone = await tx
          .deleteFrom('private_files')
          .where('service', '=', service)
          .where('path', '=', path)
          .executeTakeFirst();
        if (Number(gone.numDeletedRows) === 0) throw new NotFound(`service "${service}" has no private file "${path}"`);
        await recordAudit(tx, { actor, action: 'private-file.delete', target: `service:${service}`, before: { path } });
      });
    },

    /** The content, for a build that names the file; `purpose` (e.g. `build 42`) goes to the audit log. */
    async read(actor: Principal, service: string, path: string, purpose: string): Promise<Buffer> {
      const row = await db
        .selectFrom('private_files')
        .selectAll()
        .where('service', '=', service)
        .where('path', '=', path)
        .executeTakeFirst();
      if (!row) throw new NotFound(`service "${service}" has no private file "${path}"`);
      let content: Buffer;
      try {
        content = open(opts.key(), service, path, { keyId: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext });
      } catch (err) {
        throw new Invalid(`private file "${path}" of service "${service}" ${(err as Error).message}`);
      }
      await recordAudit(db, {
        actor,
        action: 'private-file.read',
        target: `service:${service}`,
        after: { path, purpose },
      });
      return content;
    },
  };
}

export type PrivateFiles = ReturnType<typeof createPrivateFiles>;
