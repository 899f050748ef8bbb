import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, hashToken, type Principal } from '../auth/tokens.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import { createCatalogService } from '../catalog/service.ts';
import * as catalogStore from '../catalog/store.ts';
import { sortNewestFirst } from '../catalog/version-name.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, Forbidden, Invalid, NotFound, Unauthorized } from '../errors.ts';
import * as store from './consumer-store.ts';
import type { Consumer, ConsumerFleet, ConsumerReport, FederatedVersion, Feed, FeedVersion } from './schemas.ts';

/** Prefix of consumer tokens (API tokens are `flt_`, instance credentials `fli_`, build credentials `flb_`). */
export const consumerTokenPrefix = 'flc_';
/** How many of each service's newest versions a feed lists. */
export const feedVersionsPerService = 20;

export interface ProviderDeps {
  db: Kysely<Tables>;
  dataDir: string;
  /** Where artifact blobs live; the data directory when absent. */
  blobs?: BlobStore;
  now?: () => Date;
}

export type ProviderService = ReturnType<typeof createProviderService>;

const toConsumer = (r: store.ConsumerRow): Consumer => ({
  name: r.name,
  profile: r.profile,
  description: r.description,
  testConsumer: r.test_consumer,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  revokedAt: r.revoked_at,
  settingsUrls: r.settings_urls ? (JSON.parse(r.settings_urls) as string[]) : [],
});

/**
 * Whether a settings URL lies under an allowed prefix: same scheme, host and port (as URLs compare
 * them, so case does not matter), its path inside the prefix's directory, and nothing git would resolve
 * elsewhere (dot segments, escaped dots or slashes, backslashes, user names or passwords).
 */
export function underPrefix(url: string, prefix: string): boolean {
  if (/\/\.\.?(\/|$)|%2e|%2f|%5c|\\/i.test(url)) return false;
  let u: URL;
  let p: URL;
  try {
    u = new URL(url);
    p = new URL(prefix);
  } catch {
    return false;
  }
  if (u.username || u.password || u.search || u.hash) return false;
  return u.protocol === p.protocol && u.host === p.host && u.pathname.startsWith(p.pathname);
}

/** The provider side: consumer accounts, their feed of the profile's versions, downloads and reports. */
export function createProviderService(deps: ProviderDeps) {
  const { db } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  const catalog = createCatalogService({ db, dataDir: deps.dataDir, blobs: deps.blobs });
  const lastTouched = new Map<string, number>();

  async function requireConsumer(name: string): Promise<store.ConsumerRow> {
    const row = await store.getConsumer(db, name);
    if (!row) throw new NotFound(`no consumer "${name}"`);
    return row;
  }

  async function profileServices(consumer: store.ConsumerRow): Promise<string[]> {
    return (await catalogStore.listProfiles(db, consumer.profile))[0]?.services ?? [];
  }

  /** `service@version` of what a (test) consumer last reported tested. */
  async function testedBy(name: string): Promise<Set<string>> {
    const row = await store.getReport(db, name);
    const tested = row ? ((JSON.parse(row.report) as ConsumerReport).tested ?? []) : [];
    return new Set(tested.map((t) => `${t.service}@${t.version}`));
  }

  async function requireInProfile(consumer: store.ConsumerRow, service: string): Promise<void> {
    if (!(await profileServices(consumer)).includes(service)) {
      throw new Forbidden(
        `the consumer "${consumer.name}" receives the profile "${consumer.profile}", which does not include ${service}`,
      );
    }
  }

  async function requireOffered(consumer: store.ConsumerRow, service: string, version: string): Promise<void> {
    await requireInProfile(consumer, service);
    // A client version carries one client's settings: only the consumer it was built for gets it.
    const row = await catalogStore.getVersion(db, service, version);
    if (row?.kind === 'client' && row.consumer !== consumer.name) {
      throw new NotFound(`version ${version} of service "${service}" not found`);
    }
    // A client version is as tested as the developer version it was made from.
    const gated = row?.kind === 'client' ? (row.developer_version ?? version) : version;
    if (consumer.test_consumer && !(await testedBy(consumer.test_consumer)).has(`${service}@${gated}`)) {
      throw new Forbidden(`${service} ${version} is not yet marked tested by the consumer "${consumer.test_consumer}"`);
    }
  }

  return {
    requireOffered,

    async createConsumer(
      actor: Principal,
      input: { name: string; profile: string; description?: string; testConsumer?: string; settingsUrls?: string[] },
    ) {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.name)) {
        throw new Invalid(`consumer name "${input.name}" must be lower-case letters, digits and dashes`);
      }
      if ((await catalogStore.listProfiles(db, input.profile)).length === 0) {
        throw new Invalid(`no profile "${input.profile}" (create it with flotilla profile set)`);
      }
      const token = `${consumerTokenPrefix}${randomBytes(32).toString('base64url')}`;
      const row: store.ConsumerRow = {
        name: input.name,
        profile: input.profile,
        description: input.description ?? '',
        test_consumer: input.testConsumer ?? null,
        token_hash: hashToken(token),
        created_by: authorName(actor),
        created_at: now(),
        last_seen_at: null,
        revoked_at: null,
        settings_urls: input.settingsUrls?.length ? JSON.stringify(input.settingsUrls) : null,
      };
      await db.transaction().execute(async (tx) => {
        if (await store.getConsumer(tx, input.name)) throw new Conflict(`consumer "${input.name}" already exists`);
        if (input.testConsumer !== undefined) {
          const test = await store.getConsumer(tx, input.testConsumer);
          if (!test) throw new Invalid(`no consumer "${input.testConsumer}" to take tested versions from`);
          if (test.profile !== input.profile) {
            throw new Invalid(
              `the test consumer "${test.name}" receives the profile "${test.profile}", not "${input.profile}"`,
            );
          }
        }
        await store.insertConsumer(tx, row);
        await recordAudit(tx, {
          actor,
          action: 'consumer.create',
          target: `consumer:${row.name}`,
          after: toConsumer(row),
        });
      });
      return { consumer: toConsumer(row), token };
    },

    async listConsumers(): Promise<Consumer[]> {
      return (await store.listConsumers(db)).map(toConsumer);
    },

    async getConsumer(name: string): Promise<Consumer> {
      return toConsumer(await requireConsumer(name));
    },

    /** Where the consumer's settings repositories may be fetched from by builds asked for by it. */
    async setSettingsUrls(actor: Principal, name: string, urls: string[]): Promise<Consumer> {
      return db.transaction().execute(async (tx) => {
        const before = await store.getConsumer(tx, name);
        if (!before) throw new NotFound(`no consumer "${name}"`);
        await store.setSettingsUrls(tx, name, urls.length > 0 ? JSON.stringify(urls) : null);
        const after = { ...toConsumer(before), settingsUrls: urls };
        await recordAudit(tx, {
          actor,
          action: 'consumer.settings-urls',
          target: `consumer:${name}`,
          before: toConsumer(before),
          after,
        });
        return after;
      });
    },

    /**
     * A consumer's build fetches only settings under the prefixes the provider allowed it: the provider's
     * git credentials, files and private network are not the consumer's to read.
     */
    requireAllowedSettings(consumer: store.ConsumerRow, urls: string[]): void {
      const allowed = toConsumer(consumer).settingsUrls;
      if (allowed.length === 0) {
        throw new Forbidden(
          `the consumer "${consumer.name}" may not ask for builds: the provider allows it no settings URLs (flotilla consumer settings-urls ${consumer.name} <prefix>)`,
        );
      }
      for (const url of urls) {
        if (!allowed.some((prefix) => underPrefix(url, prefix))) {
          throw new Forbidden(`settings ${url} are not under a URL prefix the provider allows "${consumer.name}"`);
        }
      }
    },

    async revokeConsumer(actor: Principal, name: string): Promise<Consumer> {
      return db.transaction().execute(async (tx) => {
        const before = await store.getConsumer(tx, name);
        if (!before) throw new NotFound(`no consumer "${name}"`);
        if (before.revoked_at) return toConsumer(before);
        const at = now();
        await store.revokeConsumer(tx, name, at);
        const after = { ...toConsumer(before), revokedAt: at };
        await recordAudit(tx, {
          actor,
          action: 'consumer.revoke',
          target: `consumer:${name}`,
          before: toConsumer(before),
          after,
        });
        return after;
      });
    },

    /** Resolves a `flc_` bearer token; a revoked one says so, so its holder can tell the operator. */
    async authenticate(header: string | undefined): Promise<store.ConsumerRow> {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
      if (!bearer?.startsWith(consumerTokenPrefix))
        throw new Unauthorized('send "Authorization: Bearer <consumer token>"');
      const hash = hashToken(bearer);
      const row = await store.consumerByTokenHash(db, hash);
      if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) {
        throw new Unauthorized('the consumer token is unknown');
      }
      if (row.revoked_at)
        throw new Unauthorized(`the consumer token of "${row.name}" was revoked at ${row.revoked_at}`);
      const t = Date.now();
      if (t - (lastTouched.get(row.name) ?? 0) >= 60_000) {
        lastTouched.set(row.name, t);
        await store.touchConsumer(db, row.name, new Date(t).toISOString());
      }
      return row;
    },

    /** The consumer's feed: its profile's services and their newest versions, with the key that signs them. */
    async feed(consumer: store.ConsumerRow): Promise<Feed> {
      const names = await profileServices(consumer);
      const tested = consumer.test_consumer ? await testedBy(consumer.test_consumer) : null;
      const services: Feed['services'] = [];
      const versions: FeedVersion[] = [];
      for (const name of names) {
        const service = await catalogStore.getService(db, name);
        if (!service) continue;
        services.push({ name, description: service.description });
        const rows = sortNewestFirst(
          (await catalogStore.listVersionSummaries(db, name)).map((r) => ({ ...r, createdAt: r.created_at })),
        ).slice(0, feedVersionsPerService);
        // Client versions built for this consumer: listed first, as the consumer imports the list from its end.
        const mine = (await catalogStore.listVersionSummaries(db, name, 'client')).filter(
          (r) => r.consumer === consumer.name,
        );
        const clientRows = sortNewestFirst(mine.map((r) => ({ ...r, createdAt: r.created_at }))).slice(
          0,
          feedVersionsPerService,
        );
        for (const r of [...clientRows, ...rows]) {
          if (tested && !tested.has(`${name}@${r.kind === 'client' ? r.developer_version : r.version}`)) continue;
          versions.push({ service: name, version: r.version, digest: r.digest, size: r.size, createdAt: r.created_at });
        }
      }
      const signingKey = catalog.signingKey();
      const cursor = createHash('sha256')
        .update(JSON.stringify([consumer.profile, signingKey.keyId, services, versions]))
        .digest('hex')
        .slice(0, 32);
      return { consumer: consumer.name, profile: consumer.profile, cursor, signingKey, services, versions };
    },

    async version(consumer: store.ConsumerRow, service: string, version: string): Promise<FederatedVersion> {
      await requireOffered(consumer, service, version);
      const v = await catalog.getVersion(service, version);
      return {
        service: v.service,
        version: v.version,
        digest: v.digest,
        size: v.size,
        notes: v.notes,
        createdAt: v.createdAt,
        signedManifest: v.signedManifest,
        signature: v.signature,
        keyId: v.keyId,
      };
    },

    async artifact(consumer: store.ConsumerRow, service: string, version: string) {
      await requireOffered(consumer, service, version);
      return catalog.artifact(service, version);
    },

    /** Keeps the consumer's latest report, only about the services of its profile. */
    async report(consumer: store.ConsumerRow, report: ConsumerReport): Promise<void> {
      const mine = new Set(await profileServices(consumer));
      const kept: ConsumerReport = {
        instances: report.instances.filter((i) => mine.has(i.service)),
        faults: report.faults.filter((f) => mine.has(f.service)),
        tested: (report.tested ?? []).filter((t) => mine.has(t.service)),
      };
      await store.putReport(db, consumer.name, JSON.stringify(kept), now());
    },

    async fleet(name: string): Promise<ConsumerFleet> {
      await requireConsumer(name);
      const row = await store.getReport(db, name);
      const report = row ? (JSON.parse(row.report) as ConsumerReport) : { instances: [], faults: [] };
      return { consumer: name, receivedAt: row?.received_at ?? null, ...report };
    },
  };
}
