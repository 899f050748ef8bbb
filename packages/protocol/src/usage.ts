import { type Static, Type } from 'typebox';

export const UsageQuery = Type.Object({
  groupBy: Type.Optional(
    Type.String({
      pattern: '^(total|appVersion|country|tag:.+)$',
      description: "`total`, `appVersion`, `country` or `tag:<key>` for a schema'd tag",
      default: 'appVersion',
    }),
  ),
  from: Type.Optional(
    Type.String({ format: 'date-time', description: 'Start (inclusive), RFC 3339; default 7 days ago' }),
  ),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End (exclusive), RFC 3339; default now' })),
  period: Type.Optional(
    Type.String({
      description: "Bucket size, a multiple of the app's query period (e.g. `1h`, `1d`); default the query period",
    }),
  ),
  fill: Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false')], {
      description:
        '`true`: every series has a point for every bucket of the range, zeros included; default only buckets with check-ins',
    }),
  ),
  points: Type.Optional(
    Type.Literal('none', {
      description:
        '`none`: series without points, each with its check-ins over the range and its newest bucket (for tables and maps)',
    }),
  ),
});
export type UsageQuery = Static<typeof UsageQuery>;

export const UsagePoint = Type.Object({
  time: Type.String({ description: 'Bucket start, RFC 3339' }),
  checkins: Type.Integer({ description: 'Accepted check-ins in the bucket' }),
  instances: Type.Number({
    description: 'Estimated instances: check-ins per query period, averaged over the bucket',
  }),
  uniqueInstances: Type.Integer({
    description: 'Distinct instance ids seen in one query period (the largest in the bucket); 0 when clients send none',
  }),
});
export type UsagePoint = Static<typeof UsagePoint>;

export const UsageSeries = Type.Object({
  key: Type.String(),
  checkins: Type.Integer({ description: 'Check-ins over the whole range' }),
  // The newest bucket of the range, zeros included: what the series counts now.
  latest: UsagePoint,
  points: Type.Array(UsagePoint, { description: 'Empty with `points=none`' }),
});
export type UsageSeries = Static<typeof UsageSeries>;

export const UsageSummary = Type.Object({
  key: Type.String(),
  instances: Type.Number({
    description: 'Check-ins in the latest query period of the range, or in the one before when that had more',
  }),
  uniqueInstances: Type.Integer({
    description: 'Distinct instance ids in the same two query periods (the larger); 0 when clients send none',
  }),
});
export type UsageSummary = Static<typeof UsageSummary>;

export const UsageResponse = Type.Object({
  app: Type.String(),
  groupBy: Type.String(),
  period: Type.String(),
  from: Type.String(),
  to: Type.String(),
  summary: Type.Array(UsageSummary, {
    description:
      'Instances now per key, most first: the latest query period of the range and the one before it; keys without check-ins there are left out',
  }),
  series: Type.Array(UsageSeries, {
    description: 'Per key, most check-ins first; points only for buckets with check-ins unless `fill=true`',
  }),
});
export type UsageResponse = Static<typeof UsageResponse>;

export const AppSummary = Type.Object({
  name: Type.String(),
  default: Type.Boolean(),
  queryPeriod: Type.String(),
  requestIntervalInMinutes: Type.Integer(),
  responseCasing: Type.Union([Type.Literal('camel'), Type.Literal('pascal')]),
  responseConfig: Type.Union([Type.String(), Type.Null()], { description: 'Path of the response config file' }),
  requestSchema: Type.Union([Type.String(), Type.Null()], { description: 'Path of the request schema file' }),
  versions: Type.Array(Type.String(), { description: 'Version names served, newest first' }),
  tagKeys: Type.Array(Type.String(), { description: "Schema'd tag keys that usage can be grouped by" }),
  catalog: Type.Union(
    [Type.Object({ service: Type.String(), tags: Type.Record(Type.String(), Type.String()) }), Type.Null()],
    { description: 'When the answer comes from the release catalog: the service, and tag → environment' },
  ),
});
export type AppSummary = Static<typeof AppSummary>;

export const AppList = Type.Object({ apps: Type.Array(AppSummary) });
export type AppList = Static<typeof AppList>;
