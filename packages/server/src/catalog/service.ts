import type {
  InstallManifest,
  Service,
  ServiceCreate,
  ServicePatch,
  SigningKey,
  VersionDetail,
  VersionList,
  VersionListQuery,
} from '@flotilla/protocol';
import { serviceNamePattern } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { BlobStore, ByteRange } from '../blobs/blob-store.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, Invalid, NotFound, Unavailable } from '../errors.ts';
import { putInTrash } from '../trash/store.ts';
import { ArtifactStore } from './artifacts.ts';
import { checkClientName, kindOf, sortVersionsNewestFirst } from './client-version.ts';
import { isVersionPinned, type PinCheck } from './pins.ts';
import { createProfileRules } from './profiles.ts';
import { receiveArtifact, trimHistory } from './publish.ts';
import { loadOrCreateSigningKey, type SigningKeyPair, signManifest } from './signing.ts';
import * as store from './store.ts';
import { parseVersionName } from './version-name.ts';
import { toVersionSummary } from './version-summary.ts';

export { isVersionPinned } from './pins.ts';
export { maxArtifactBytes } from './publish.ts';

/** A published version as other features see it. */
export interface CatalogVersion {
  service: string;
  version: string;
  digest: string;
  size: number;
  manifest: InstallManifest;
  signedManifest: string;
  signature: string;
  createdAt: string;
}

export async function findVersion(
  db: Kysely<Tables>,
  service: string,
  version: string,
): Promise<CatalogVersion | undefined> {
  const row = await store.getVersion(db, service, version);
  if (!row) return undefined;
  return {
    service: row.service,
    version: row.version,
    digest: row.digest,
    size: row.size,
    manifest: JSON.parse(row.manifest) as InstallManifest,
    signedManifest: row.signed_manifest,
    signature: row.signature,
    createdAt: row.created_at,
  };
}

export async function listServiceNames(db: Kysely<Tables>): Promise<string[]> {
  return store.serviceNames(db);
}

export const defaultMaxHistorySize = 50;
const namePattern = new RegExp(serviceNamePattern);

export interface CatalogDeps {
  db: Kysely<Tables>;
  dataDir: string;
  /** Where artifact blobs live; the data directory when absent. */
  blobs?: BlobStore;
  logger?: Logger;
  defaultMaxHistory?: number;
  isPinned?: PinCheck;
  now?: () => Date;
}

export interface PublishInput {
  service: string;
  version: string;
  body: NodeJS.ReadableStream;
  sha256?: string;
  notes?: string;
}

/** An artifact to send: its size and digest, and its bytes streamed from the blob store. */
export interface ArtifactBlob {
  size: number;
  digest: string;
  open(range?: ByteRange): Promise<NodeJS.ReadableStream>;
}

export type CatalogService = ReturnType<typeof createCatalogService>;

export function createCatalogService(deps: CatalogDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  const defaultMax = deps.defaultMaxHistory ?? defaultMaxHistorySize;
  const isPinned = deps.isPinned ?? isVersionPinned;
  const blobs = new ArtifactStore(deps.dataDir, deps.blobs);
  let key: SigningKeyPair | undefined;
  const signingKey = () => {
    key ??= loadOrCreateSigningKey(deps.dataDir);
    return key;
  };
  // Serialises "blob placed + row written" against "blob unreferenced → deleted" (also the orphan sweep).
  const withBlobLock = <T>(fn: () => Promise<T>): Promise<T> => blobs.exclusive(fn);

  const toService = (row: store.ServiceRow): Service => ({
    name: row.name,
    description: row.description,
    maxHistorySize: row.max_history_size ?? defaultMax,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });

  async function requireService(name: string): Promise<store.ServiceRow> {
    const row = await store.getService(db, name);
    if (!row) throw new NotFound(`no service "${name}"`);
    return row;
  }

  async function requireVersion(service: string, version: string): Promise<store.VersionRow> {
    const row = await store.getVersion(db, service, version);
    if (!row) {
      await requireService(service);
      throw new NotFound(`service "${service}" has no version ${version}`);
    }
    return row;
  }

  /** A client version names a developer version of the service that exists, by its artifact's digest. */
  async function checkClientVersion(service: string, version: string, manifest: InstallManifest) {
    const client = checkClientName(version, manifest.client);
    const developer = await store.getVersion(db, service, client.developerVersion);
    if (!developer || developer.kind === 'client') {
      throw new Invalid(`service "${service}" has no developer version ${client.developerVersion}`);
    }
    if (developer.digest !== client.developerDigest) {
      throw new Invalid(
        `${version} was made from an artifact ${client.developerDigest}, but ${client.developerVersion} is ${developer.digest}`,
      );
    }
    return client;
  }

  /** Deletes the blobs of `digests` that no version references any more. */
  async function collectBlobs(digests: string[]): Promise<void> {
    await withBlobLock(async () => {
      for (const digest of await store.unreferencedDigests(db, digests)) await blobs.remove(digest);
    });
  }

  return {
    async listServices(): Promise<Service[]> {
      return (await store.listServices(db)).map(toService);
    },

    async getService(name: string): Promise<Service> {
      return toService(await requireService(name));
    },

    async createService(actor: Principal, input: ServiceCreate): Promise<Service> {
      if (!namePattern.test(input.name))
        throw new Invalid(`service name "${input.name}" must match ${serviceNamePattern}`);
      const at = now();
      const row: store.ServiceRow = {
        name: input.name,
        description: input.description ?? '',
        max_history_size: null,
        created_at: at,
        updated_at: at,
      };
      await db.transaction().execute(async (tx) => {
        await store.insertService(tx, row);
        await recordAudit(tx, {
          actor,
          action: 'service.create',
          target: `service:${row.name}`,
          after: toService(row),
        });
      });
      return toService(row);
    },

    async patchService(actor: Principal, name: string, patch: ServicePatch): Promise<Service> {
      return db.transaction().execute(async (tx) => {
        const before = await store.getService(tx, name);
        if (!before) throw new NotFound(`no service "${name}"`);
        const set = {
          updated_at: now(),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...(patch.maxHistorySize !== undefined ? { max_history_size: patch.maxHistorySize } : {}),
        };
        await store.updateService(tx, name, set);
        const after = toService({ ...before, ...set });
        await recordAudit(tx, {
          actor,
          action: 'service.update',
          target: `service:${name}`,
          before: toService(before),
          after,
        });
        return after;
      });
    },

    async deleteService(actor: Principal, name: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await store.getService(tx, name);
        if (!row) throw new NotFound(`no service "${name}"`);
        const versions = await store.countVersions(tx, name);
        if (versions > 0)
          throw new Conflict(
            `service "${name}" still has ${versions} version(s); delete them first (flotilla version delete)`,
          );
        const profiles = await store.profilesUsing(tx, name);
        if (profiles.length > 0) throw new Conflict(`service "${name}" is in profile(s) ${profiles.join(', ')}`);
        await store.deleteService(tx, name);
        // Kept restorable until the trash retention purges it (trash/).
        await putInTrash(tx, { kind: 'service', name, data: row, at: now(), by: authorName(actor) });
        await recordAudit(tx, { actor, action: 'service.delete', target: `service:${name}`, before: toService(row) });
      });
    },

    ...createProfileRules(db, now),

    /** Streams the artifact to disk while hashing, checks it, stores it by digest and signs its manifest. */
    async publish(actor: Principal, input: PublishInput): Promise<VersionDetail> {
      const kind = kindOf(input.version);
      if (kind === 'developer' && !parseVersionName(input.version)) {
        throw new Invalid(
          `version "${input.version}" is neither semver (1.2.3, v1.2.3-rc.1) nor <distribution>-<build>[_N] (jetto-3.5.1_2)`,
        );
      }
      const service = await requireService(input.service);
      if (await store.getVersion(db, input.service, input.version)) {
        throw new Conflict(`version ${input.version} of service "${input.service}" already exists`);
      }
      const { tmpPath, hex, size, manifest } = await receiveArtifact(blobs, input.body, input.sha256);
      const digest = `sha256:${hex}`;
      let client: ReturnType<typeof checkClientName> | undefined;
      try {
        client = kind === 'client' ? await checkClientVersion(input.service, input.version, manifest) : undefined;
        if (kind === 'developer' && manifest.client) {
          throw new Invalid(
            `flotilla.json has a "client" section: publish it as a client version (${input.version}+client)`,
          );
        }
      } catch (err) {
        await blobs.discard(tmpPath);
        throw err;
      }
      const publishedAt = now();
      const k = signingKey();
      const signed = signManifest(k.privateKey, {
        service: input.service,
        version: input.version,
        digest,
        size,
        manifest,
        publishedAt,
      });
      const row: store.VersionRow = {
        service: input.service,
        version: input.version,
        digest,
        size,
        manifest: JSON.stringify(manifest),
        signed_manifest: signed.signedManifest,
        signature: signed.signature,
        key_id: k.keyId,
        notes: input.notes ?? null,
        author: authorName(actor),
        created_at: publishedAt,
        kind,
        developer_version: client?.developerVersion ?? null,
        generation: client?.generation ?? null,
        client_inputs: client?.inputs ?? null,
        settings: client ? JSON.stringify(client.settings) : null,
        consumer: client?.consumer ?? null,
      };
      try {
        await blobs.upload(tmpPath, hex);
      } catch (err) {
        await blobs.discard(tmpPath);
        throw err;
      }
      // An object store already holds the blob: any failure from here on must not leave it unreferenced.
      const removed = await withBlobLock(async () => {
        try {
          await blobs.commit(tmpPath, hex);
          return await db.transaction().execute(async (tx) => {
            await store.insertVersion(tx, row);
            const trimmed = await trimHistory(
              tx,
              service.name,
              input.version,
              service.max_history_size ?? defaultMax,
              isPinned,
            );
            await recordAudit(tx, {
              actor,
              action: 'version.publish',
              target: `service:${input.service}/version:${input.version}`,
              after: { digest, size, notes: row.notes, trimmed: trimmed.map((t) => t.version) },
            });
            return trimmed;
          });
        } catch (err) {
          for (const d of await store.unreferencedDigests(db, [digest])) await blobs.remove(d);
          throw err;
        }
      });
      if (removed.length > 0) {
        await collectBlobs(removed.map((r) => r.digest));
        deps.logger?.info(
          { service: input.service, removed: removed.map((r) => r.version) },
          'version history trimmed',
        );
      }
      return {
        ...toVersionSummary(row),
        manifest,
        signedManifest: row.signed_manifest,
        signature: row.signature,
        keyId: row.key_id,
      };
    },

    async listVersions(serviceName: string, query: VersionListQuery): Promise<VersionList> {
      await requireService(serviceName);
      const rows = sortVersionsNewestFirst(
        (await store.listVersionSummaries(db, serviceName, query.kind ?? 'developer')).map((r) => ({
          ...r,
          createdAt: r.created_at,
          developerVersion: r.developer_version,
        })),
      );
      let start = 0;
      if (query.cursor !== undefined) {
        const at = rows.findIndex((r) => r.version === query.cursor);
        if (at < 0) throw new Invalid(`cursor "${query.cursor}" is not a version of service "${serviceName}"`);
        start = at + 1;
      }
      const limit = query.limit ?? 50;
      const page = rows.slice(start, start + limit);
      const more = start + limit < rows.length;
      return { versions: page.map(toVersionSummary), nextCursor: more ? (page.at(-1)?.version ?? null) : null };
    },

    async getVersion(serviceName: string, version: string): Promise<VersionDetail> {
      const row = await requireVersion(serviceName, version);
      return {
        ...toVersionSummary(row),
        manifest: JSON.parse(row.manifest) as InstallManifest,
        signedManifest: row.signed_manifest,
        signature: row.signature,
        keyId: row.key_id,
      };
    },

    /** The artifact's size and digest, and how to stream its bytes (all or a range). */
    async artifact(serviceName: string, version: string): Promise<ArtifactBlob> {
      const row = await requireVersion(serviceName, version);
      if (!(await blobs.exists(row.digest))) {
        deps.logger?.error({ service: serviceName, version, digest: row.digest }, 'artifact blob missing');
        throw new Unavailable(`the artifact of ${serviceName} ${version} is missing from the server's blob store`);
      }
      const digest = row.digest;
      return { size: row.size, digest, open: (range) => blobs.open(digest, range) };
    },

    signingKey(): SigningKey {
      const k = signingKey();
      return { algorithm: 'ed25519', keyId: k.keyId, publicKeyPem: k.publicKeyPem };
    },

    blobs,
  };
}
