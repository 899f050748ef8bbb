import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.ts';
import type { CatalogService } from '../catalog/service.ts';
import { verifySignedManifest } from '../catalog/signing.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, Invalid } from '../errors.ts';
import { DigestMismatch, downloadVerified } from './download.ts';
import type { PinnedKey } from './pin.ts';
import { callProvider, type ProviderConnection, ProviderRefused } from './provider-client.ts';
import { recordReceived } from './received-store.ts';
import type { FederatedVersion, Feed, FeedVersion } from './schemas.ts';

export interface ImportContext {
  db: Kysely<Tables>;
  catalog: CatalogService;
  /** Where artifacts are downloaded (partial files kept to resume). */
  tmpDir: string;
  logger: Logger;
  /** Records a refusal (logged, shown in the status, not tried again until restart). */
  refuse: (v: FeedVersion, reason: string) => void;
  /** Counts a published version. */
  received: () => void;
}

/** Who the consumer's catalog and audit log name for what federation publishes. */
export function actorFor(c: ProviderConnection): Principal {
  return { tokenId: 'federation', name: `federation:${new URL(c.providerUrl).host}`, role: 'admin' };
}

/**
 * Imports one version: the signed manifest checked against the pinned key, the artifact downloaded
 * and checked against it, then published in this server's catalog. False when refused or already
 * there; nothing is ever partly published.
 */
export async function importVersion(
  ctx: ImportContext,
  c: ProviderConnection,
  pin: PinnedKey,
  v: FeedVersion,
  feed: Feed,
  signal: AbortSignal,
): Promise<boolean> {
  const { catalog, db, tmpDir, logger, refuse } = ctx;
  const actor = actorFor(c);
  const detail = await callProvider<FederatedVersion>(
    c,
    `/api/v1/federation/versions/${encodeURIComponent(v.service)}/${encodeURIComponent(v.version)}`,
    {},
    signal,
  );
  if (!verifySignedManifest(pin.publicKeyPem, detail)) {
    refuse(v, `the manifest signature does not match the pinned provider key ${pin.keyId.slice(0, 16)}`);
    return false;
  }
  const signed = JSON.parse(detail.signedManifest) as {
    service: string;
    version: string;
    digest: string;
    size: number;
    publishedAt: string;
  };
  if (signed.service !== v.service || signed.version !== v.version) {
    refuse(v, `the signed manifest names ${signed.service} ${signed.version}`);
    return false;
  }
  let file: string;
  try {
    file = await downloadVerified({
      url: new URL(
        `/api/v1/federation/versions/${encodeURIComponent(v.service)}/${encodeURIComponent(v.version)}/artifact`,
        c.providerUrl,
      ).toString(),
      headers: { authorization: `Bearer ${c.token}` },
      dir: tmpDir,
      digest: signed.digest,
      size: signed.size,
      signal,
    });
  } catch (err) {
    if (err instanceof DigestMismatch) {
      refuse(v, err.message);
      return false;
    }
    const s = (err as { status?: number }).status;
    if (s !== undefined) throw new ProviderRefused(s, (err as Error).message);
    throw err;
  }
  try {
    if (!(await catalog.getService(v.service).catch(() => undefined))) {
      const description = feed.services.find((s) => s.name === v.service)?.description ?? '';
      await catalog.createService(actor, { name: v.service, description }).catch((err) => {
        if (!(err instanceof Conflict)) throw err;
      });
    }
    const hex = signed.digest.slice('sha256:'.length);
    await catalog.publish(actor, {
      service: v.service,
      version: v.version,
      body: createReadStream(file),
      sha256: hex,
      notes:
        `from ${c.providerUrl} (${v.service} ${v.version}, ${signed.digest}, key ${pin.keyId.slice(0, 16)})${detail.notes ? `: ${detail.notes}` : ''}`.slice(
          0,
          1000,
        ),
    });
    await recordReceived(db, {
      service: v.service,
      version: v.version,
      provider_url: c.providerUrl,
      provider_digest: signed.digest,
      provider_key_id: pin.keyId,
      provider_published_at: signed.publishedAt,
      received_at: new Date().toISOString(),
    });
    ctx.received();
    logger.info({ service: v.service, version: v.version, provider: c.providerUrl }, 'federated version received');
    return true;
  } catch (err) {
    if (err instanceof Conflict) return false; // published meanwhile (another start of this server)
    // This server's catalog refuses it (name, archive, manifest): trying again would not help.
    if (err instanceof Invalid) {
      refuse(v, `this server's catalog refuses it: ${err.message}`);
      return false;
    }
    throw err;
  } finally {
    await rm(file, { force: true });
  }
}
