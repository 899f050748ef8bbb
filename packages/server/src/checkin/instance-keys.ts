import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/**
 * Per-app, per-period random HMAC keys. An instance id is counted through HMAC(key, id); the key and
 * the digests are deleted once the period has closed, so no stable identifier outlives its period.
 */
export class InstanceKeys {
  readonly #db: Kysely<Tables>;
  readonly #cache = new Map<string, Buffer>();

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async digest(app: string, periodStart: number, instanceId: string): Promise<string> {
    const key = await this.#keyFor(app, periodStart);
    return createHmac('sha256', key).update(instanceId).digest('base64url').slice(0, 22);
  }

  async #keyFor(app: string, periodStart: number): Promise<Buffer> {
    const cacheKey = `${app}\0${periodStart}`;
    const cached = this.#cache.get(cacheKey);
    if (cached) return cached;
    // Insert-if-absent then read back, so every server sharing the store uses the same key.
    await this.#db
      .insertInto('instance_period_keys')
      .values({ app, period_start: periodStart, hmac_key: randomBytes(32).toString('base64') })
      .onConflict((oc) => oc.columns(['app', 'period_start']).doNothing())
      .execute();
    const row = await this.#db
      .selectFrom('instance_period_keys')
      .select('hmac_key')
      .where('app', '=', app)
      .where('period_start', '=', periodStart)
      .executeTakeFirstOrThrow();
    const key = Buffer.from(row.hmac_key, 'base64');
    this.#cache.set(cacheKey, key);
    return key;
  }

  /** Drops this process's copies of closed periods' keys; every replica does, the leader deletes the rows. */
  forgetClosed(app: string, closedBefore: number): void {
    for (const k of this.#cache.keys()) {
      const [a, start] = k.split('\0');
      if (a === app && Number(start) < closedBefore) this.#cache.delete(k);
    }
  }

  /** Destroys keys and digests of periods that ended before `closedBefore`; the counts stay in the rollups. */
  async destroyClosed(app: string, closedBefore: number): Promise<number> {
    this.forgetClosed(app, closedBefore);
    const keys = await this.#db
      .deleteFrom('instance_period_keys')
      .where('app', '=', app)
      .where('period_start', '<', closedBefore)
      .executeTakeFirst();
    await this.#db
      .deleteFrom('instance_sightings')
      .where('app', '=', app)
      .where('period_start', '<', closedBefore)
      .execute();
    return Number(keys.numDeletedRows);
  }
}
