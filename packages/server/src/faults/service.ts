import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type FaultDetail,
  type FaultList,
  type FaultQuery,
  FaultReportMeta,
  type FaultSummary,
} from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { Value } from 'typebox/value';
import type { BlobStore } from '../blobs/blob-store.ts';
import { LocalBlobStore } from '../blobs/local-store.ts';
import type { Tables } from '../db/tables.ts';
import { DomainError, Invalid, NotFound } from '../errors.ts';
import { metaFileName, readFaultArchive, receiveUpload } from './archive.ts';
import * as store from './store.ts';

export const defaultMaxArchiveBytes = 256 * 1024 ** 2;
/** Temp uploads and archives without a row older than this are leftovers of a crash. */
const leftoverAgeMs = 3_600_000;
const archiveKeyRe = /^faults\/([0-9a-f-]{36})\.tar\.gz$/;
/** A fault time further ahead of the server's clock than this is stored as the receive time. */
const maxFutureMs = 86_400_000;

/** The blob key of a report's archive: `faults/<id>.tar.gz`, as laid out under the data directory. */
export function faultArchiveKey(id: string): string {
  return `faults/${id}.tar.gz`;
}

export interface FaultServiceDeps {
  db: Kysely<Tables>;
  dataDir: string;
  /** Where archives live; the data directory when absent. Uploads are staged in `<dataDir>/faults/tmp` either way. */
  blobs?: BlobStore;
  retentionMs: number;
  /** Reports kept per environment and service; the oldest received go first. */
  maxCount: number;
  maxArchiveBytes?: number;
  now?: () => number;
}

export type FaultService = ReturnType<typeof createFaultService>;

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/** `fault.json` problems as `<JSON pointer>: <reason>`, one per path, unions folded into "expected a or b". */
export function metaProblems(value: unknown): string[] {
  const errors = [...Value.Errors(FaultReportMeta, value)] as SchemaError[];
  const byPath = new Map<string, SchemaError[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  const problems: string[] = [];
  for (const [path, list] of byPath) {
    const at = path || '/';
    for (const e of list.filter((x) => x.keyword === 'required')) {
      const missing = (e.params.requiredProperties as string[] | undefined) ?? [];
      problems.push(...missing.map((p) => `${path}/${p}: required`));
    }
    if (list.some((e) => e.keyword === 'boolean')) problems.push(`${at}: unknown property`);
    const types = list.filter((e) => e.keyword === 'type').map((e) => String(e.params.type));
    if (types.length > 0) problems.push(`${at}: expected ${types.join(' or ')}`);
    const other = list.find(
      (e) => !['required', 'boolean', 'type', 'anyOf', 'additionalProperties'].includes(e.keyword),
    );
    if (other && types.length === 0) problems.push(`${at}: ${other.message}`);
  }
  return problems;
}

/** Fields that name things; control characters (NUL, CR, ...) there are refused, never stored or shown. */
const namingFields = ['service', 'instanceId', 'version', 'reason', 'signal'] as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharRe = /[\u0000-\u001f\u007f]/;

function validateMeta(value: unknown): FaultReportMeta {
  const problems = metaProblems(value);
  if (problems.length === 0) {
    const meta = value as FaultReportMeta;
    for (const field of namingFields) {
      const text = meta[field];
      if (typeof text === 'string' && controlCharRe.test(text)) problems.push(`/${field}: holds a control character`);
    }
  }
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new Invalid(`${metaFileName}: ${problems.slice(0, 5).join('; ')}${more}`);
  }
  return value as FaultReportMeta;
}

function summaryOf(row: store.FaultRow): FaultSummary {
  return {
    id: row.id,
    receivedAt: new Date(row.receivedAt).toISOString(),
    time: new Date(row.time).toISOString(),
    environment: row.environment,
    instanceId: row.instanceId,
    service: row.service,
    version: row.version,
    reason: row.reason,
    exitCode: row.exitCode,
    signal: row.signal,
    size: row.size,
    files: row.files,
  };
}

function encodeCursor(row: store.FaultRow): string {
  return Buffer.from(`${row.time}.${row.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { time: number; id: string } {
  const m = /^(\d+)\.(.+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new Invalid('cursor is not one this server gave out');
  return { time: Number(m[1]), id: m[2] as string };
}

function parseTime(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Invalid(`"${name}" must be an RFC 3339 time, got "${text}"`);
  return t;
}

/** Fault reports: upload (archive on disk, row in the store), queries, and retention. */
export function createFaultService(deps: FaultServiceDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const maxBytes = deps.maxArchiveBytes ?? defaultMaxArchiveBytes;
  const tmpDir = join(deps.dataDir, 'faults', 'tmp');
  const blobs = deps.blobs ?? new LocalBlobStore(deps.dataDir);

  async function removeArchives(ids: string[]): Promise<void> {
    for (const id of ids) await blobs.delete(faultArchiveKey(id));
  }

  /** Deletes rows then files; a file whose removal fails is swept later as an orphan. */
  async function remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const deleted = await db.transaction().execute((tx) => store.deleteFaults(tx, ids));
    await removeArchives(ids);
    return deleted;
  }

  /** Temp uploads and archives without a row, left by a crash; old ones only, so live uploads are safe. */
  async function sweepLeftovers(): Promise<void> {
    const cutoff = now() - leftoverAgeMs;
    const old = async (path: string) => ((await stat(path).catch(() => undefined))?.mtimeMs ?? now()) < cutoff;
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      if (await old(join(tmpDir, name))) await rm(join(tmpDir, name), { force: true });
    }
    await blobs.abortStaleUploads('faults/', cutoff);
    const ids: string[] = [];
    for await (const entry of blobs.list('faults/')) {
      const m = archiveKeyRe.exec(entry.key);
      if (m && entry.modifiedMs < cutoff) ids.push(m[1] as string);
    }
    for (const id of ids) if (!(await store.getFault(db, id))) await blobs.delete(faultArchiveKey(id));
  }

  return {
    /**
     * Takes an uploaded archive: streamed to a temp file while hashed, checked, then placed in the blob
     * store as `faults/<id>.tar.gz` and its row written. On any refusal neither object nor row stays.
     */
    async receive(
      /** `check` refuses a report the uploader may not make (another instance, a service outside its profile). */
      agent: { environment: string; check?: (meta: { instanceId: string; service: string }) => void },
      body: NodeJS.ReadableStream,
      declaredLength?: number,
      /** Called with the report's instance id once it is known; throws to refuse (a quota). */
      admit?: (instanceId: string) => void,
    ): Promise<{ id: string; environment: string; service: string }> {
      if (declaredLength !== undefined && declaredLength > maxBytes) {
        throw new DomainError('payload_too_large', `the fault archive is larger than ${maxBytes} bytes`);
      }
      let received: { tmpPath: string; hex: string; size: number };
      try {
        received = await receiveUpload(tmpDir, body, maxBytes);
      } catch (err) {
        if (err instanceof DomainError) throw err;
        throw new Invalid(`the upload did not complete: ${(err as Error).message}`);
      }
      const { tmpPath, hex, size } = received;
      try {
        if (size === 0) throw new Invalid('the fault archive is empty');
        const content = await readFaultArchive(tmpPath);
        const meta = validateMeta(content.meta);
        agent.check?.(meta);
        admit?.(meta.instanceId);
        const receivedAt = now();
        // A clock far ahead (2099-12-31) would pin the report to the top of every list; the archive
        // keeps the time as sent.
        let time = Date.parse(meta.time);
        if (time > receivedAt + maxFutureMs) time = receivedAt;
        const row: store.FaultRow = {
          id: randomUUID(),
          receivedAt,
          time,
          environment: agent.environment,
          instanceId: meta.instanceId,
          service: meta.service,
          version: meta.version,
          reason: meta.reason,
          exitCode: meta.exitCode,
          signal: meta.signal,
          size,
          digest: `sha256:${hex}`,
          files: content.files,
          state: meta.state,
          logTail: content.logTail,
        };
        const key = faultArchiveKey(row.id);
        await blobs.putFile(key, tmpPath, hex);
        try {
          await store.insertFault(db, row);
        } catch (err) {
          await blobs.delete(key);
          throw err;
        }
        return { id: row.id, environment: row.environment, service: row.service };
      } catch (err) {
        await rm(tmpPath, { force: true });
        throw err;
      }
    },

    async list(query: FaultQuery): Promise<FaultList> {
      const limit = query.limit ?? 50;
      const rows = await store.listFaults(db, {
        service: query.service,
        instanceId: query.instance,
        environment: query.environment,
        from: parseTime(query.from, 'from'),
        to: parseTime(query.to, 'to'),
        before: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit,
      });
      const last = rows.at(-1);
      return { faults: rows.map(summaryOf), nextCursor: rows.length === limit && last ? encodeCursor(last) : null };
    },

    async get(id: string): Promise<FaultDetail> {
      const row = await store.getFault(db, id);
      if (!row) throw new NotFound(`no fault report "${id}"`);
      return { ...summaryOf(row), state: row.state, logTail: row.logTail, digest: row.digest };
    },

    /** A report's archive: its size, a file name to offer, and its bytes streamed from the blob store. */
    async archive(id: string): Promise<{ size: number; fileName: string; open(): Promise<NodeJS.ReadableStream> }> {
      const row = await store.getFault(db, id);
      if (!row) throw new NotFound(`no fault report "${id}"`);
      const key = faultArchiveKey(id);
      const found = await blobs.stat(key);
      if (!found) throw new NotFound(`the archive of fault report "${id}" is gone`);
      const safeService = row.service.replace(/[^A-Za-z0-9._-]/g, '_');
      return { size: found.size, fileName: `fault-${safeService}-${id}.tar.gz`, open: () => blobs.get(key) };
    },

    /**
     * Deletes reports received longer than the retention ago and, per environment and service, those
     * beyond the newest `maxCount` received, files and rows. With `group`, only its count is checked.
     */
    async applyRetention(group?: { environment: string; service: string }): Promise<number> {
      const ids = new Set<string>();
      if (group === undefined) {
        for (const id of await store.faultsReceivedBefore(db, now() - deps.retentionMs)) ids.add(id);
      }
      const groups = group === undefined ? await store.groupsOverCount(db, deps.maxCount) : [group];
      for (const g of groups) {
        for (const id of await store.faultsBeyondCount(db, g, deps.maxCount)) ids.add(id);
      }
      const removed = await remove([...ids]);
      if (group === undefined) await sweepLeftovers();
      return removed;
    },
  };
}
