import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { clientVersionSuffix } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.ts';
import { createCatalogService, findVersion } from '../catalog/service.ts';
import { keyIdOf } from '../catalog/signing.ts';
import type { Tables } from '../db/tables.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import type { DesiredNotifier } from '../desired/long-poll.ts';
import { createDesiredService } from '../desired/service.ts';
import { NotFound } from '../errors.ts';
import { actorFor, type ImportContext, importVersion } from './import-version.ts';
import { federationDir, readPin, writePin } from './pin.ts';
import { callProvider, type ProviderConnection, ProviderRefused } from './provider-client.ts';
import { gatherReport } from './reporter.ts';
import type { Feed, FeedVersion } from './schemas.ts';

export type { ProviderConnection } from './provider-client.ts';

export type FollowerState = 'off' | 'connecting' | 'following' | 'backoff' | 'revoked';

export interface FederationStatus {
  state: FollowerState;
  providerUrl: string | null;
  environment: string | null;
  consumer: string | null;
  profile: string | null;
  pinnedKeyId: string | null;
  /** Set when the provider now offers a key other than the pinned one: its versions are refused. */
  offeredKeyId: string | null;
  lastSyncAt: string | null;
  lastReportAt: string | null;
  lastError: string | null;
  received: number;
  refused: Array<{ service: string; version: string; reason: string; at: string }>;
}

export interface FollowerDeps {
  db: Kysely<Tables>;
  dataDir: string;
  /** Where artifact blobs live; the data directory when absent. */
  blobs?: BlobStore;
  logger: Logger;
  /** Wakes this server's agents after a desired change (desired/agent-routes.ts). */
  notifier?: () => DesiredNotifier | undefined;
  reportIntervalMs?: number;
  /** Long-poll wait asked of the provider. */
  waitSeconds?: number;
}

const maxRefusedShown = 20;

/**
 * The consumer side: follows the provider's feed with a long poll, verifies each version against the
 * pinned key and its digest, publishes it as this server's own version (signed by this server's key),
 * optionally makes it desired, and reports instances and faults of those services back.
 */
export function createFollower(deps: FollowerDeps) {
  const { db, logger } = deps;
  const catalog = createCatalogService({ db, dataDir: deps.dataDir, blobs: deps.blobs, logger });
  const tmpDir = join(federationDir(deps.dataDir), 'tmp');
  let conn: ProviderConnection | null = null;
  let stop: AbortController | null = null;
  let loop: Promise<void> | null = null;
  const refusedKeys = new Set<string>();
  const status: FederationStatus = blankStatus();

  function blankStatus(): FederationStatus {
    return {
      state: 'off',
      providerUrl: null,
      environment: null,
      consumer: null,
      profile: null,
      pinnedKeyId: null,
      offeredKeyId: null,
      lastSyncAt: null,
      lastReportAt: null,
      lastError: null,
      received: 0,
      refused: [],
    };
  }

  function refuse(v: FeedVersion, reason: string): void {
    refusedKeys.add(`${v.service}@${v.version}@${v.digest}`);
    status.refused = [
      { service: v.service, version: v.version, reason, at: new Date().toISOString() },
      ...status.refused,
    ].slice(0, maxRefusedShown);
    logger.error({ service: v.service, version: v.version, reason }, 'federated version refused');
  }

  const importContext: ImportContext = {
    db,
    catalog,
    tmpDir,
    logger,
    refuse,
    received: () => {
      status.received++;
    },
  };

  async function makeDesired(c: ProviderConnection, newest: Map<string, string>) {
    if (!c.environment || newest.size === 0) return;
    const desired = createDesiredService({ db, lookup: catalogLookup, notifier: deps.notifier?.() });
    try {
      await desired.editDesired(actorFor(c), c.environment, {
        set: Object.fromEntries(newest),
        comment: `federated from ${c.providerUrl}`,
      });
    } catch (err) {
      // The version stays published; the gate (or a rollout) decides, and the status says why.
      status.lastError = `not made desired in ${c.environment}: ${(err as Error).message}`;
      logger.warn({ environment: c.environment, err: (err as Error).message }, 'federated versions not made desired');
    }
  }

  async function sync(c: ProviderConnection, feed: Feed, signal: AbortSignal) {
    status.consumer = feed.consumer;
    status.profile = feed.profile;
    let pin = c.providerKeyPem ? undefined : readPin(deps.dataDir, c.providerUrl);
    if (c.providerKeyPem) pin = { providerUrl: c.providerUrl, keyId: '', publicKeyPem: c.providerKeyPem, pinnedAt: '' };
    if (!pin) {
      pin = writePin(deps.dataDir, c.providerUrl, feed.signingKey.publicKeyPem);
      logger.info({ provider: c.providerUrl, keyId: pin.keyId }, 'pinned the provider signing key');
    }
    if (!pin.keyId) pin = { ...pin, keyId: keyIdOf(pin.publicKeyPem) };
    status.pinnedKeyId = pin.keyId;
    status.offeredKeyId = feed.signingKey.keyId === pin.keyId ? null : feed.signingKey.keyId;
    const newest = new Map<string, string>();
    // Oldest first, so this server's history keeps the provider's order.
    for (const v of [...feed.versions].reverse()) {
      if (signal.aborted) return;
      if (refusedKeys.has(`${v.service}@${v.version}@${v.digest}`)) continue;
      if (await findVersion(db, v.service, v.version)) continue;
      // Later in this order is newer, so the last one imported per service is its newest. Automatic
      // updates follow new developer versions, as the provider publishes them; client versions wait.
      const imported = await importVersion(importContext, c, pin, v, feed, signal);
      if (imported && !v.version.endsWith(clientVersionSuffix)) newest.set(v.service, v.version);
    }
    await makeDesired(c, newest);
    if (newest.size > 0) await report(c, signal);
  }

  async function report(c: ProviderConnection, signal?: AbortSignal) {
    try {
      const body = await gatherReport(db);
      await callProvider(
        c,
        '/api/v1/federation/report',
        { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
        signal,
      );
      status.lastReportAt = new Date().toISOString();
    } catch (err) {
      if (err instanceof ProviderRefused && (err.status === 401 || err.status === 403)) throw err;
      logger.warn({ err: (err as Error).message }, 'report to the provider failed');
    }
  }

  async function run(c: ProviderConnection, signal: AbortSignal) {
    let cursor: string | undefined;
    let backoffMs = 1000;
    let nextReport = Date.now() + (deps.reportIntervalMs ?? 30_000);
    const waitSeconds = deps.waitSeconds ?? 25;
    while (!signal.aborted) {
      try {
        status.state = cursor === undefined ? 'connecting' : 'following';
        const q = new URLSearchParams({ wait: `${waitSeconds}s`, ...(cursor ? { since: cursor } : {}) });
        const feed = await callProvider<Feed>(
          c,
          `/api/v1/federation/feed?${q}`,
          {},
          AbortSignal.any([signal, AbortSignal.timeout((waitSeconds + 15) * 1000)]),
        );
        status.state = 'following';
        if (feed.cursor !== cursor) await sync(c, feed, signal);
        cursor = feed.cursor;
        status.lastSyncAt = new Date().toISOString();
        backoffMs = 1000;
        if (Date.now() >= nextReport) {
          nextReport = Date.now() + (deps.reportIntervalMs ?? 30_000);
          await report(c, signal);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ProviderRefused && (err.status === 401 || err.status === 403)) {
          status.state = 'revoked';
          status.lastError = err.message;
          logger.error(
            { provider: c.providerUrl, err: err.message },
            'the provider refused this consumer; federation stopped',
          );
          return;
        }
        status.state = 'backoff';
        status.lastError = (err as Error).message;
        logger.warn(
          { provider: c.providerUrl, err: (err as Error).message, retryInMs: backoffMs },
          'following the provider failed',
        );
        // Ended early by stop(), so a server never waits out a backoff to shut down.
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }

  /** Partial downloads are kept to resume, but not for ever. */
  async function removeStaleParts(): Promise<void> {
    const before = Date.now() - 86_400_000;
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      const path = join(tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < before) await rm(path, { force: true });
    }
  }

  return {
    /** Starts following `c` (stopping any earlier connection first). */
    async start(c: ProviderConnection): Promise<void> {
      await this.stop();
      new URL(c.providerUrl); // throws on a malformed URL before anything starts
      conn = c;
      Object.assign(status, blankStatus(), {
        state: 'connecting',
        providerUrl: c.providerUrl,
        environment: c.environment,
      });
      refusedKeys.clear();
      await removeStaleParts();
      stop = new AbortController();
      loop = run(c, stop.signal).catch((err: Error) => {
        status.lastError = err.message;
        logger.error({ err }, 'federation follower stopped');
      });
    },
    async stop(): Promise<void> {
      stop?.abort();
      await loop;
      stop = null;
      loop = null;
      if (conn && status.state !== 'revoked') status.state = 'off';
      conn = null;
    },
    status(): FederationStatus {
      return { ...status, refused: [...status.refused] };
    },
    /** The provider this server follows now, to forward a consumer's calls (client builds) to it. */
    connection(): ProviderConnection | null {
      return conn;
    },
    /** Sends a report now (tests and `federation status --report`). */
    async reportNow(): Promise<void> {
      if (!conn) throw new NotFound('this server follows no provider');
      await report(conn);
    },
  };
}

export type Follower = ReturnType<typeof createFollower>;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
