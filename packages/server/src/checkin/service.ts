import type { Logger } from 'pino';
import type { GeoLocator } from '../geo/geo.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { AppRegistry, CheckinApp } from './apps.ts';
import type { InstanceKeys } from './instance-keys.ts';
import { type ParsedCheckin, parseCheckin } from './parse-request.ts';
import type { CheckinRecord } from './record.ts';
import type { CheckinWriter } from './writer.ts';

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
  now?: () => number;
}

export type CheckinService = ReturnType<typeof createCheckinService>;

export function createCheckinService(deps: CheckinServiceDeps) {
  const now = deps.now ?? Date.now;
  const empty = { countryIsoCode: '', country: '', city: '' };

  /**
   * Validates, geolocates and stores one check-in, resolving with the app's answer only once the
   * record is durable. The client address is used for the lookup and goes no further.
   */
  async function checkIn(app: CheckinApp, body: string, clientIp: string): Promise<string> {
    return accept(app, parseCheckin(body, app.schema), clientIp);
  }

  async function accept(app: CheckinApp, parsed: ParsedCheckin, clientIp: string): Promise<string> {
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
    const instanceDigest = parsed.instanceId
      ? await deps.instanceKeys.digest(name, periodStart, parsed.instanceId)
      : null;
    await deps.writer.submit({ record, periodStart, instanceDigest, rollupTagKeys: app.tagKeys });
    deps.metrics.checkinsAccepted.inc({ app: name });
    for (const sink of deps.sinks) sink.enqueue(record);
    return response;
  }

  return { checkIn, apps: deps.apps };
}
