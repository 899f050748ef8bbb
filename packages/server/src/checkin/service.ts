import type { Logger } from 'pino';
import type { GeoLocator } from '../geo/geo.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { AppRegistry, CheckinApp } from './apps.ts';
import type { InstanceKeys } from './instance-keys.ts';
import { type ParsedCheckin, parseCheckin } from './parse-request.ts';
import type { CheckinRecord } from './record.ts';
import { CheckinNotStored, type CheckinWriter, type UnstoredReason } from './writer.ts';

/** What to do with a check-in the store cannot take: answer it anyway (counted as unstored), or 503. */
export type StoreFailurePolicy = 'answer' | 'refuse';

/** The answer body once stored; an object when the check-in was answered without being stored. */
export type CheckinAnswer = string | { body: string; unstored: UnstoredReason };

export interface CheckinSink {
  enqueue(record: CheckinRecord): void;
}

export interface CheckinServiceDeps {
  apps: AppRegistry;
  writer: CheckinWriter;
  instanceKeys: InstanceKeys;
  geo: GeoLocator | null;
  sinks: CheckinSink[];
  metrics: Metrics;
  logger: Logger;
  /** Default `answer`, as upgrade-responder answers whatever its storage does. */
  onStoreFailure?: StoreFailurePolicy;
  now?: () => number;
}

export type CheckinService = ReturnType<typeof createCheckinService>;

export function createCheckinService(deps: CheckinServiceDeps) {
  const now = deps.now ?? Date.now;
  const empty = { countryIsoCode: '', country: '', city: '' };
  const policy = deps.onStoreFailure ?? 'answer';
  const incident = storeIncidents(deps.logger, deps.metrics, policy, now);

  /** The instance key lives in the store too: when it cannot be read, the check-in cannot be stored. */
  async function digest(app: string, periodStart: number, instanceId: string): Promise<string> {
    try {
      return await deps.instanceKeys.digest(app, periodStart, instanceId);
    } catch (err) {
      throw new CheckinNotStored('store_failed', 'the check-in could not be stored; try again shortly', err);
    }
  }

  /**
   * Validates, geolocates and stores one check-in, resolving with the app's answer once the record
   * is durable; when the store cannot take it, with the answer marked unstored (or CheckinNotStored
   * under `refuse`). The client address is used for the lookup and goes no further.
   */
  async function checkIn(app: CheckinApp, body: string, clientIp: string): Promise<CheckinAnswer> {
    return accept(app, parseCheckin(body, app.schema), clientIp);
  }

  async function accept(app: CheckinApp, parsed: ParsedCheckin, clientIp: string): Promise<CheckinAnswer> {
    const name = app.config.name;
    for (const d of parsed.dropped) {
      deps.metrics.checkinValuesDropped.inc({ app: name, kind: d.kind, reason: d.reason });
      deps.logger.debug({ app: name, kind: d.kind, key: d.key, reason: d.reason }, 'dropped a check-in value');
    }
    const response = app.response.body;
    if (parsed.notStoredReason) {
      deps.metrics.checkinsDropped.inc({ app: name, reason: parsed.notStoredReason });
      deps.logger.debug({ app: name, reason: parsed.notStoredReason }, 'answered a check-in without storing it');
      return response;
    }
    const time = now();
    const location = deps.geo ? deps.geo.lookup(clientIp) : empty;
    const record: CheckinRecord = {
      time,
      app: name,
      appVersion: parsed.appVersion,
      countryIsoCode: location.countryIsoCode,
      country: location.country,
      city: location.city,
      tags: parsed.tags,
      fields: parsed.fields,
    };
    const periodStart = time - (time % app.config.queryPeriodMs);
    try {
      const instanceDigest = parsed.instanceId ? await digest(name, periodStart, parsed.instanceId) : null;
      await deps.writer.submit({ record, periodStart, instanceDigest, rollupTagKeys: app.tagKeys });
    } catch (err) {
      if (!(err instanceof CheckinNotStored)) throw err;
      incident.failed(name, err);
      if (policy === 'refuse') throw err;
      // The sinks keep their own bounded queue: a sick store need not cost them the check-in.
      for (const sink of deps.sinks) sink.enqueue(record);
      return { body: response, unstored: err.reason };
    }
    incident.stored();
    deps.metrics.checkinsAccepted.inc({ app: name });
    for (const sink of deps.sinks) sink.enqueue(record);
    return response;
  }

  return { checkIn, apps: deps.apps };
}

/** An incident ends only after this long without a failure, so overload at the edge does not flap the log. */
const recoveredAfterMs = 5000;

/**
 * Counts check-ins the store could not take, and logs once when an incident starts and once when
 * storing works again, however many check-ins arrive in between.
 */
function storeIncidents(logger: Logger, metrics: Metrics, policy: StoreFailurePolicy, now: () => number) {
  let open: { since: number; lastFailure: number; unstored: number } | null = null;
  return {
    failed(app: string, err: CheckinNotStored) {
      metrics.checkinsUnstored.inc({ app, reason: err.reason });
      const at = now();
      if (open) {
        open.unstored += 1;
        open.lastFailure = at;
        return;
      }
      open = { since: at, lastFailure: at, unstored: 1 };
      const what =
        policy === 'answer'
          ? 'answering check-ins without storing them until the store recovers (--on-store-failure answer)'
          : 'refusing check-ins with 503 until the store recovers (--on-store-failure refuse)';
      logger.error({ reason: err.reason, err: err.cause ?? err }, `check-ins cannot be stored; ${what}`);
    },
    stored() {
      if (!open || now() - open.lastFailure < recoveredAfterMs) return;
      const { since, unstored } = open;
      open = null;
      logger.info(
        { unstored, seconds: Math.round((now() - since) / 1000) },
        `check-ins are stored again; ${unstored} could not be stored meanwhile`,
      );
    },
  };
}
